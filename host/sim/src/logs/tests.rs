use super::*;
use futures::StreamExt;

const MAIN: ContainerRef<'static> = ContainerRef {
    namespace: "ns",
    pod: "p",
    container: "main",
};

fn ts(secs: i64, nanos: i32) -> Timestamp {
    Timestamp::new(1_700_000_000 + secs, nanos).unwrap()
}

fn store_with(lines: &[(i64, &str)]) -> LogStore {
    let store = LogStore::new();
    store.start_container("ns", "p", "main");
    for (secs, text) in lines {
        store.append("ns", "p", "main", LogStream::Stdout, ts(*secs, 0), text);
    }
    store
}

fn read(store: &LogStore, options: LogOptions) -> String {
    String::from_utf8(store.read(MAIN, &options, ts(100, 0)).unwrap().to_vec()).unwrap()
}

#[test]
fn reads_all_lines_and_partial_last_line() {
    let store = store_with(&[(0, "a\nb\n"), (1, "c")]);
    assert_eq!(read(&store, LogOptions::default()), "a\nb\nc");
}

#[test]
fn tail_lines_then_since_filter() {
    let store = store_with(&[(0, "a\n"), (10, "b\n"), (20, "c\n"), (30, "d\n")]);
    assert_eq!(
        read(
            &store,
            LogOptions {
                tail_lines: Some(2),
                ..Default::default()
            }
        ),
        "c\nd\n"
    );
    assert_eq!(
        read(
            &store,
            LogOptions {
                tail_lines: Some(0),
                ..Default::default()
            }
        ),
        ""
    );
    assert_eq!(
        read(
            &store,
            LogOptions {
                tail_lines: Some(99),
                ..Default::default()
            }
        ),
        "a\nb\nc\nd\n"
    );
    // since 75s before now (t=100) keeps lines at t>=25.
    assert_eq!(
        read(
            &store,
            LogOptions {
                since_seconds: Some(75),
                ..Default::default()
            }
        ),
        "d\n"
    );
    assert_eq!(
        read(
            &store,
            LogOptions {
                since_time: Some(ts(10, 0)),
                ..Default::default()
            }
        ),
        "b\nc\nd\n"
    );
    // tail first, then since: the last 3 are b,c,d; since t=20 keeps c,d.
    let both = LogOptions {
        tail_lines: Some(3),
        since_time: Some(ts(20, 0)),
        ..Default::default()
    };
    assert_eq!(read(&store, both), "c\nd\n");
}

#[test]
fn timestamps_and_limit_bytes() {
    let store = LogStore::new();
    store.start_container("ns", "p", "main");
    store.append(
        "ns",
        "p",
        "main",
        LogStream::Stderr,
        ts(0, 120_000_000),
        "hello\n",
    );
    let out = read(
        &store,
        LogOptions {
            timestamps: true,
            ..Default::default()
        },
    );
    assert_eq!(out, "2023-11-14T22:13:20.12Z hello\n");
    let out = read(
        &store,
        LogOptions {
            timestamps: true,
            limit_bytes: Some(10),
            ..Default::default()
        },
    );
    assert_eq!(out, "2023-11-14");
}

#[test]
fn rfc3339_nano_trims_zeros() {
    assert_eq!(rfc3339_nano(ts(0, 0)), "2023-11-14T22:13:20Z");
    assert_eq!(rfc3339_nano(ts(0, 1)), "2023-11-14T22:13:20.000000001Z");
    assert_eq!(rfc3339_nano(ts(0, 500_000_000)), "2023-11-14T22:13:20.5Z");
}

#[test]
fn previous_instance_after_restart() {
    let store = store_with(&[(0, "first run\n")]);
    let err = store.read(
        MAIN,
        &LogOptions {
            previous: true,
            ..Default::default()
        },
        ts(0, 0),
    );
    assert_eq!(
        err.unwrap_err().to_string(),
        "previous terminated container \"main\" in pod \"p\" not found"
    );
    store.start_container("ns", "p", "main");
    store.append(
        "ns",
        "p",
        "main",
        LogStream::Stdout,
        ts(5, 0),
        "second run\n",
    );
    assert_eq!(read(&store, LogOptions::default()), "second run\n");
    assert_eq!(
        read(
            &store,
            LogOptions {
                previous: true,
                ..Default::default()
            }
        ),
        "first run\n"
    );
}

#[test]
fn unknown_container_and_removed_pod() {
    let store = store_with(&[(0, "x\n")]);
    let err = store
        .read(
            ContainerRef {
                container: "other",
                ..MAIN
            },
            &LogOptions::default(),
            ts(0, 0),
        )
        .unwrap_err();
    assert_eq!(
        err,
        LogError::ContainerNotFound {
            pod: "p".into(),
            container: "other".into()
        }
    );
    store.remove_pod("ns", "p");
    assert!(store.read(MAIN, &LogOptions::default(), ts(0, 0)).is_err());
}

#[test]
fn memory_is_bounded_dropping_oldest() {
    let store = LogStore::new();
    store.start_container("ns", "p", "main");
    let line = "x".repeat(1023);
    for i in 0..2000 {
        store.append(
            "ns",
            "p",
            "main",
            LogStream::Stdout,
            ts(i, 0),
            &format!("{line}\n"),
        );
    }
    let out = store.read(MAIN, &LogOptions::default(), ts(0, 0)).unwrap();
    assert!(out.len() <= MAX_BYTES_PER_CONTAINER);
    assert_eq!(out.len(), 1024 * 1024);
    // The oldest went first: the first kept line is from t=976 (2000 - 1024).
    let first = store.read(
        MAIN,
        &LogOptions {
            since_time: Some(ts(976, 0)),
            ..Default::default()
        },
        ts(0, 0),
    );
    assert_eq!(first.unwrap().len(), out.len());
}

#[test]
fn stream_text_separates_stdout() {
    let store = LogStore::new();
    store.start_container("ns", "p", "main");
    store.append("ns", "p", "main", LogStream::Stdout, ts(0, 0), "out\n");
    store.append("ns", "p", "main", LogStream::Stderr, ts(0, 0), "err\n");
    store.append("ns", "p", "main", LogStream::Stdout, ts(0, 0), "more");
    assert_eq!(
        store.stream_text("ns", "p", "main", LogStream::Stdout),
        "out\nmore"
    );
    assert_eq!(
        store.stream_text("ns", "p", "main", LogStream::Stderr),
        "err\n"
    );
}

#[tokio::test]
async fn follow_yields_new_lines_until_terminated() {
    let store = store_with(&[(0, "old1\n"), (1, "old2\n")]);
    let options = LogOptions {
        tail_lines: Some(1),
        ..Default::default()
    };
    let stream = store.follow(MAIN, &options, ts(0, 0)).unwrap();
    let writer = store.clone();
    let task = tokio::spawn(async move { stream.collect::<Vec<Bytes>>().await });
    tokio::task::yield_now().await;
    writer.append("ns", "p", "main", LogStream::Stdout, ts(2, 0), "new1\n");
    tokio::task::yield_now().await;
    writer.append("ns", "p", "main", LogStream::Stdout, ts(3, 0), "new2\n");
    writer.terminate_container("ns", "p", "main");
    let chunks = tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    let all: Vec<u8> = chunks.iter().flat_map(|c| c.to_vec()).collect();
    assert_eq!(String::from_utf8(all).unwrap(), "old2\nnew1\nnew2\n");
}

#[tokio::test]
async fn follow_stops_at_limit_and_on_pod_removal() {
    let store = store_with(&[(0, "abcdef\n")]);
    let options = LogOptions {
        limit_bytes: Some(3),
        ..Default::default()
    };
    let chunks: Vec<Bytes> = store
        .follow(MAIN, &options, ts(0, 0))
        .unwrap()
        .collect()
        .await;
    assert_eq!(chunks, vec![Bytes::from_static(b"abc")]);

    let stream = store
        .follow(MAIN, &LogOptions::default(), ts(0, 0))
        .unwrap();
    let task = tokio::spawn(async move { stream.collect::<Vec<Bytes>>().await });
    tokio::task::yield_now().await;
    store.remove_pod("ns", "p");
    let chunks = tokio::time::timeout(std::time::Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(chunks, vec![Bytes::from_static(b"abcdef\n")]);
}
