use std::sync::{Arc, mpsc};
use std::time::Duration;

use wasmtime::component::{Component, Instance};

use super::super::runtime::{Grants, Limits, PluginError, PluginHost, World};
use super::super::warm::{Warm, WarmSpec};
use super::super::wit::WitVersion;

/// A component that waits in WASI as a guest's `sleep` does: `poll` and `block` each subscribe
/// to `monotonic-clock` for the nanoseconds given, then wait on it — with `wasi:io/poll#poll`
/// and with `pollable.block`. Imports and types as `wit-component` writes them.
const SLEEPER: &str = r#"
(component $C
  (type $poll-t (instance
    (export "pollable" (type $p (sub resource)))
    (type $b (borrow $p))
    (type $l (list $b))
    (type $r (list u32))
    (type $f (func (param "in" $l) (result $r)))
    (export "poll" (func (type $f)))
    (type $bf (func (param "self" $b)))
    (export "[method]pollable.block" (func (type $bf)))))
  (import "wasi:io/poll@0.2.6" (instance $poll (type $poll-t)))
  (alias export $poll "pollable" (type $pollable))
  (type $clock-t (instance
    (alias outer $C $pollable (type $p))
    (export "pollable" (type $pe (eq $p)))
    (type $o (own $pe))
    (type $f (func (param "when" u64) (result $o)))
    (export "subscribe-duration" (func (type $f)))))
  (import "wasi:clocks/monotonic-clock@0.2.6" (instance $clock (type $clock-t)))

  (core module $libc
    (memory (export "memory") 1)
    (global $next (mut i32) (i32.const 1024))
    (func (export "realloc") (param i32 i32 i32 i32) (result i32)
      (local $at i32)
      (local.set $at (global.get $next))
      (global.set $next (i32.add (global.get $next) (local.get 3)))
      (local.get $at)))
  (core instance $libc (instantiate $libc))
  (alias export $clock "subscribe-duration" (func $subscribe-duration))
  (alias export $poll "poll" (func $poll-f))
  (alias export $poll "[method]pollable.block" (func $block-f))
  (core func $subscribe (canon lower (func $subscribe-duration)))
  (core func $poll (canon lower (func $poll-f) (memory (core memory $libc "memory")) (realloc (core func $libc "realloc"))))
  (core func $block (canon lower (func $block-f)))
  (core module $main
    (import "libc" "memory" (memory 1))
    (import "wasi" "subscribe" (func $subscribe (param i64) (result i32)))
    (import "wasi" "poll" (func $poll (param i32 i32 i32)))
    (import "wasi" "block" (func $block (param i32)))
    (func (export "poll") (param $ns i64)
      (i32.store (i32.const 0) (call $subscribe (local.get $ns)))
      (call $poll (i32.const 0) (i32.const 1) (i32.const 8)))
    (func (export "block") (param $ns i64)
      (call $block (call $subscribe (local.get $ns)))))
  (core instance $main (instantiate $main
    (with "libc" (instance $libc))
    (with "wasi" (instance
      (export "subscribe" (func $subscribe))
      (export "poll" (func $poll))
      (export "block" (func $block))))))
  (func (export "poll") (param "nanoseconds" u64) (canon lift (core func $main "poll")))
  (func (export "block") (param "nanoseconds" u64) (canon lift (core func $main "block"))))
"#;

const HOUR: u64 = 3_600_000_000_000;
const MILLISECOND: u64 = 1_000_000;

/// The sleeper as a plugin with a 100 ms deadline, its clock running or stopped.
struct Sleeper {
    host: PluginHost,
    component: Component,
    warm: Warm<Instance>,
}

fn sleeper(clock_stopped: bool) -> Arc<Sleeper> {
    let host = PluginHost::new(false).expect("host");
    let component = Component::new(&host.engine, SLEEPER).expect("the sleeper compiles");
    let limits = Limits {
        deadline: Duration::from_millis(100),
        ..Limits::default()
    };
    let grants = Grants {
        deterministic: clock_stopped,
        ..Grants::default()
    };
    let warm = Warm::new(WarmSpec::new(&host, "sleeper", limits, grants));
    Arc::new(Sleeper {
        host,
        component,
        warm,
    })
}

/// Calls the sleeper's `how` (`poll` or `block`) for `nanoseconds` on a thread of its own, and
/// fails the test if the call has not returned a minute later — far past its deadline.
fn wait(sleeper: &Arc<Sleeper>, how: &'static str, nanoseconds: u64) -> Result<(), PluginError> {
    let (tx, rx) = mpsc::channel();
    let sleeper = sleeper.clone();
    std::thread::spawn(move || {
        let s = &*sleeper;
        let result = s.warm.call(
            |store| {
                let linker = s.host.linker(WitVersion::V0_1_0, World::PlacementPolicy);
                linker.instantiate(store, &s.component)
            },
            |instance, store| {
                let f = instance.get_typed_func::<(u64,), ()>(&mut *store, how)?;
                f.call(&mut *store, (nanoseconds,))
            },
        );
        let _ = tx.send(result);
    });
    rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|_| {
        panic!("waiting for `{how}` of {nanoseconds} ns to return (deadline 100 ms): still blocked a minute later")
    })
}

fn timed_out() -> PluginError {
    PluginError::Timeout {
        plugin: "sleeper".into(),
        budget: Duration::from_millis(100),
    }
}

#[test]
fn a_long_wait_ends_at_the_deadline_and_the_plugin_answers_again() {
    let warm = sleeper(false);
    for how in ["poll", "block"] {
        assert_eq!(wait(&warm, how, HOUR), Err(timed_out()), "{how}");
        // The lock was let go and the instance replaced: a short wait completes.
        assert_eq!(wait(&warm, how, MILLISECOND), Ok(()), "{how}");
    }
}

#[test]
fn under_a_stopped_clock_no_time_passes() {
    let warm = sleeper(true);
    for how in ["poll", "block"] {
        // A live clock would let a millisecond pass; a stopped one never does.
        assert_eq!(wait(&warm, how, MILLISECOND), Err(timed_out()), "{how}");
        // A wait for no time at all is over at once.
        assert_eq!(wait(&warm, how, 0), Ok(()), "{how}");
    }
}
