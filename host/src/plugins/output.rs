//! What a plugin's sandbox gives it besides nothing: stdout and stderr that become tracing
//! lines under the plugin's name, and — for naming policies — randomness and clocks that never
//! change, so a name cannot come from them.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use rand::SeedableRng;
use wasmtime_wasi::WasiCtxBuilder;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::clocks::{HostMonotonicClock, HostWallClock};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamError};

/// Longest line kept: a longer one is cut (and says so), so a plugin cannot grow the host's
/// memory by never writing a newline.
const MAX_LINE: usize = 4096;

/// A guest's stdout or stderr: each line is a tracing event (`info` for stdout, `warn` for
/// stderr) with the plugin's name.
#[derive(Clone)]
pub(super) struct TracedOutput {
    plugin: Arc<str>,
    stream: &'static str,
    line: Arc<Mutex<Vec<u8>>>,
}

impl TracedOutput {
    pub(super) fn new(plugin: &str, stream: &'static str) -> TracedOutput {
        TracedOutput {
            plugin: plugin.into(),
            stream,
            line: Arc::default(),
        }
    }

    fn emit(&self, line: &[u8]) {
        let text = String::from_utf8_lossy(line);
        let text = text.trim_end_matches('\r');
        let plugin = &*self.plugin;
        match self.stream {
            "stderr" => tracing::warn!(plugin, stream = self.stream, "{text}"),
            _ => tracing::info!(plugin, stream = self.stream, "{text}"),
        }
    }

    fn write_bytes(&self, mut bytes: &[u8]) {
        let mut line = self.line.lock();
        while let Some(end) = bytes.iter().position(|b| *b == b'\n') {
            let room = MAX_LINE.saturating_sub(line.len());
            line.extend_from_slice(&bytes[..end.min(room)]);
            self.emit(&line);
            line.clear();
            bytes = &bytes[end + 1..];
        }
        let room = MAX_LINE.saturating_sub(line.len());
        line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

impl IsTerminal for TracedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for TracedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

#[async_trait::async_trait]
impl Pollable for TracedOutput {
    async fn ready(&mut self) {}
}

impl OutputStream for TracedOutput {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.write_bytes(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        Ok(())
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        Ok(MAX_LINE)
    }
}

impl tokio::io::AsyncWrite for TracedOutput {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        self.write_bytes(buf);
        std::task::Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

/// A clock stopped at the Unix epoch.
struct Stopped;

impl HostWallClock for Stopped {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for Stopped {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }

    fn now(&self) -> u64 {
        0
    }
}

/// Seeded randomness and stopped clocks: every fresh instance sees the same ones.
pub(super) fn fix_randomness_and_clocks(wasi: &mut WasiCtxBuilder) {
    wasi.secure_random(rand::rngs::StdRng::seed_from_u64(0))
        .insecure_random(rand::rngs::StdRng::seed_from_u64(1))
        .insecure_random_seed(0)
        .wall_clock(Stopped)
        .monotonic_clock(Stopped);
}

/// Whether the `log` import's line at `level` would be recorded (`log.enabled`).
pub(super) fn log_enabled(level: tracing::Level) -> bool {
    match level {
        tracing::Level::ERROR => tracing::enabled!(tracing::Level::ERROR),
        tracing::Level::WARN => tracing::enabled!(tracing::Level::WARN),
        tracing::Level::INFO => tracing::enabled!(tracing::Level::INFO),
        tracing::Level::DEBUG => tracing::enabled!(tracing::Level::DEBUG),
        _ => tracing::enabled!(tracing::Level::TRACE),
    }
}

/// One line of the `log` import (`log.write`), under the plugin's name.
pub(super) fn log_line(plugin: &str, level: tracing::Level, message: &str) {
    match level {
        tracing::Level::ERROR => tracing::error!(plugin, "{message}"),
        tracing::Level::WARN => tracing::warn!(plugin, "{message}"),
        tracing::Level::INFO => tracing::info!(plugin, "{message}"),
        tracing::Level::DEBUG => tracing::debug!(plugin, "{message}"),
        _ => tracing::trace!(plugin, "{message}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_split_and_long_ones_cut() {
        let out = TracedOutput::new("p", "stdout");
        out.write_bytes(b"one\ntw");
        assert_eq!(&*out.line.lock(), b"tw");
        out.write_bytes(b"o\n");
        assert!(out.line.lock().is_empty());
        out.write_bytes(&vec![b'x'; MAX_LINE * 3]);
        assert_eq!(out.line.lock().len(), MAX_LINE);
    }
}
