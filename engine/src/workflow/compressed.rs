//! `status.compressedNodes`: the nodes of a workflow too large to store whole, as Argo writes
//! them (their JSON, gzip-compressed, then base64) — and reads them back, bounded, because the
//! status of a workflow is written by whoever may write the workflow.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};

use base64::Engine as _;

use super::NodeStatus;

/// The most a workflow may take when stored (Argo's default `MAX_WORKFLOW_SIZE`): beyond it its
/// nodes are stored compressed; if even that is too large, the workflow fails.
pub const MAX_WORKFLOW_SIZE: usize = 1024 * 1024;

/// The most the nodes of one workflow may take once decompressed — a few hundred kilobytes of
/// gzip could otherwise expand to gigabytes in every replica's cache. The controller never
/// writes more (the workflow fails instead), so what it wrote it can read.
pub const MAX_INFLATED_NODES: usize = 16 * 1024 * 1024;

/// Why `compressedNodes` cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CompressedError {
    #[error("compressedNodes is not base64: {0}")]
    Base64(String),
    #[error("compressedNodes is not gzip: {0}")]
    Gzip(String),
    #[error("compressedNodes expands beyond {MAX_INFLATED_NODES} bytes")]
    TooLarge,
    #[error("compressedNodes does not hold the nodes of a workflow: {0}")]
    Nodes(String),
}

/// The nodes as Argo stores them compressed.
pub fn compress(nodes: &BTreeMap<String, NodeStatus>) -> String {
    let json = serde_json::to_vec(nodes).unwrap_or_default();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    let _ = gzip.write_all(&json);
    let bytes = gzip.finish().unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The nodes `compressed` holds, refused if they would expand beyond [`MAX_INFLATED_NODES`].
pub fn decompress(compressed: &str) -> Result<BTreeMap<String, NodeStatus>, CompressedError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compressed.trim())
        .map_err(|e| CompressedError::Base64(e.to_string()))?;
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(bytes.as_slice())
        .take(MAX_INFLATED_NODES as u64 + 1)
        .read_to_end(&mut json)
        .map_err(|e| CompressedError::Gzip(e.to_string()))?;
    if json.len() > MAX_INFLATED_NODES {
        return Err(CompressedError::TooLarge);
    }
    // Where, not what: the message of a decode error may quote the value it met.
    serde_json::from_slice(&json)
        .map_err(|e| CompressedError::Nodes(format!("at line {} column {}", e.line(), e.column())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(name: &str) -> NodeStatus {
        serde_json::from_value(serde_json::json!({
            "id": name, "name": name, "displayName": name, "type": "Pod", "phase": "Succeeded"
        }))
        .expect("a node")
    }

    #[test]
    fn nodes_round_trip_as_argo_stores_them() {
        let nodes: BTreeMap<String, NodeStatus> = (0..50)
            .map(|i| (format!("n{i}"), node(&format!("n{i}"))))
            .collect();
        let compressed = compress(&nodes);
        assert_eq!(decompress(&compressed).unwrap(), nodes);
        // Argo's CompressEncodeString: gzip (magic 1f 8b), then standard base64.
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&compressed)
            .unwrap();
        assert_eq!(&raw[..2], &[0x1f, 0x8b]);
    }

    #[test]
    fn what_cannot_be_read_is_refused_saying_why() {
        assert!(matches!(decompress("%%%"), Err(CompressedError::Base64(_))));
        let not_gzip = base64::engine::general_purpose::STANDARD.encode(b"plain");
        assert!(matches!(
            decompress(&not_gzip),
            Err(CompressedError::Gzip(_))
        ));
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gzip.write_all(b"[1, 2]").unwrap();
        let list = base64::engine::general_purpose::STANDARD.encode(gzip.finish().unwrap());
        assert!(matches!(decompress(&list), Err(CompressedError::Nodes(_))));
    }

    #[test]
    fn a_decompression_bomb_is_stopped_at_the_bound() {
        // 65 MiB of spaces compress to about 65 KiB.
        let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![b' '; 1024 * 1024];
        for _ in 0..65 {
            gzip.write_all(&zeros).unwrap();
        }
        let bomb = base64::engine::general_purpose::STANDARD.encode(gzip.finish().unwrap());
        assert!(bomb.len() < 1024 * 1024);
        assert_eq!(decompress(&bomb), Err(CompressedError::TooLarge));
    }
}

#[cfg(test)]
mod stored {
    use super::*;
    use crate::workflow::WorkflowStatus;

    fn status_of(nodes: usize, mut detail: impl FnMut(usize) -> String) -> WorkflowStatus {
        let nodes = (0..nodes)
            .map(|i| {
                let node: NodeStatus = serde_json::from_value(serde_json::json!({
                    "id": format!("n{i}"), "name": format!("n{i}"), "displayName": format!("n{i}"),
                    "type": "Pod", "phase": "Succeeded", "message": detail(i),
                }))
                .expect("a node");
                (format!("n{i}"), node)
            })
            .collect();
        WorkflowStatus {
            nodes,
            ..WorkflowStatus::default()
        }
    }

    #[test]
    fn a_status_is_stored_whole_until_the_workflow_would_pass_a_mebibyte() {
        let small = status_of(10, |_| "ok".into());
        let stored = small.stored(1000).unwrap();
        assert_eq!(stored, small);
        assert!(stored.compressed_nodes.is_none());

        let large = status_of(8000, |i| format!("node {i} did what it was told"));
        let stored = large.stored(1000).unwrap();
        assert!(stored.nodes.is_empty());
        // Read back, the nodes are whole again; the mark that they were compressed stays.
        let read: WorkflowStatus =
            serde_json::from_value(serde_json::to_value(&stored).unwrap()).unwrap();
        assert_eq!(read.nodes, large.nodes);
        assert_eq!(read.as_stored(), stored);
        // Grown small again, it is stored whole and the compressed copy goes.
        let shrunk = WorkflowStatus {
            nodes: small.nodes.clone(),
            ..read
        };
        assert_eq!(shrunk.stored(1000).unwrap().compressed_nodes, None);
    }

    #[test]
    fn a_workflow_too_large_even_compressed_is_refused_in_argos_words() {
        // Messages that do not compress: a pseudo-random hex run per node.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise = |_: usize| {
            (0..200)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    format!("{:x}", x & 0xf)
                })
                .collect::<String>()
        };
        let huge = status_of(8000, noise);
        let err = huge.stored(1000).unwrap_err();
        assert!(
            err.starts_with("workflow is longer than maximum allowed size. compressed size "),
            "{err}"
        );
        assert!(err.ends_with("> maxSize 1048576"), "{err}");
    }

    #[test]
    fn compressed_nodes_win_over_nodes_beside_them_and_are_written_alone() {
        let stored = status_of(3, |_| "stored".into());
        let forged = status_of(1, |_| "forged".into());
        let mut both = serde_json::to_value(&forged).unwrap();
        both["compressedNodes"] = compress(&stored.nodes).into();
        let read: WorkflowStatus = serde_json::from_value(both).unwrap();
        assert_eq!(read.nodes, stored.nodes);
        // Changed and written back by a client, it stays compressed, its nodes as they are now.
        let mut changed = read.clone();
        changed.nodes.remove("n0");
        let written = serde_json::to_value(&changed).unwrap();
        assert!(written.get("nodes").is_none(), "{written}");
        let again: WorkflowStatus = serde_json::from_value(written).unwrap();
        assert_eq!(again.nodes.len(), 2);
        // An empty compressedNodes is none.
        let empty: WorkflowStatus =
            serde_json::from_value(serde_json::json!({"compressedNodes": ""})).unwrap();
        assert_eq!(empty.compressed_nodes, None);
    }

    #[test]
    fn a_forged_compressed_status_is_refused_where_it_is_read() {
        let lenient =
            crate::workflow::Lenient::<crate::workflow::Workflow>::from_value(serde_json::json!({
                "apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow",
                "metadata": {"name": "w", "namespace": "n"}, "spec": {},
                "status": {"compressedNodes": "not base64!"}
            }))
            .unwrap();
        let invalid = lenient.into_result().unwrap_err();
        assert!(
            invalid
                .error
                .problem
                .starts_with("compressedNodes is not base64"),
            "{:?}",
            invalid.error
        );
        let err = serde_json::from_value::<WorkflowStatus>(serde_json::json!({
            "compressedNodes": "not base64!"
        }))
        .unwrap_err();
        assert!(
            err.to_string().contains("compressedNodes is not base64"),
            "{err}"
        );
    }
}
