//! A naming policy that misbehaves as its config says — `loop`, `memory`, `trap`, `file`,
//! `socket`, `env`, `invalid`, `nondeterministic` (`nd-<n>`, a different valid name on every
//! call), `sleep` (sleeps a millisecond, then answers `slept`), `clock` (`clock-<wall-clock
//! seconds>-<nanoseconds the monotonic clock advanced over a busy loop>`) — and otherwise
//! answers `ok-<length of the node's name>`. For testing that the host contains each
//! misbehaviour. The place is ignored.

use std::sync::atomic::{AtomicU64, Ordering};

use flotilla_plugin_sdk::v0_1_0::naming::{self, *};

struct Misbehaving;

/// Calls answered with `nondeterministic`, so far (lives as long as the instance).
static CALLS: AtomicU64 = AtomicU64::new(0);

impl Guest for Misbehaving {
    fn pod_name(
        template: TemplateInfo,
        _place: Place,
        config: String,
    ) -> Result<String, PluginError> {
        let refuse = |message: String| Err(PluginError { message });
        match config.as_str() {
            "loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "memory" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "trap" => panic!("this plugin traps on purpose"),
            "file" => match std::fs::read_to_string("/etc/passwd") {
                Ok(text) => Ok(format!("read-{}", text.len())),
                Err(e) => refuse(format!("reading /etc/passwd: {e}")),
            },
            "socket" => match std::net::TcpStream::connect("127.0.0.1:80") {
                Ok(_) => Ok("connected".into()),
                Err(e) => refuse(format!("connecting: {e}")),
            },
            "env" => Ok(format!("env-{}", std::env::vars().count())),
            "invalid" => Ok("Not_A_Valid.Name-".into()),
            "nondeterministic" => Ok(format!("nd-{}", CALLS.fetch_add(1, Ordering::Relaxed))),
            "sleep" => {
                std::thread::sleep(std::time::Duration::from_millis(1));
                Ok("slept".into())
            }
            "clock" => {
                let wall = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or_default();
                let started = std::time::Instant::now();
                let mut n: u64 = 0;
                for _ in 0..1_000_000 {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
                Ok(format!("clock-{wall}-{}", started.elapsed().as_nanos()))
            }
            _ => Ok(format!("ok-{}", template.node_name.len())),
        }
    }
}

naming::export!(Misbehaving);
