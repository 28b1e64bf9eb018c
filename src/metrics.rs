//! Prometheus metrics at `/metrics`: sign-ins by provider and outcome, callback latency,
//! provider errors by kind, and active sessions where the store can count them.
//!
//! Counters live in this process (each instance is scraped on its own, as Prometheus expects).
//! `/metrics` answers only to addresses in `METRICS_ALLOW` (default: loopback).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// A counter added to on every request by every worker: each worker thread adds to a slot of
/// its own, on a cache line of its own, so the workers' cores do not pass one line back and
/// forth on every request (a shared `AtomicU64` showed in the gate's profile).
#[derive(Default)]
pub(crate) struct StripedCounter([Stripe; STRIPES]);

const STRIPES: usize = 8;

#[derive(Default)]
#[repr(align(128))]
struct Stripe(AtomicU64);

impl StripedCounter {
    pub(crate) fn add_one(&self) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        thread_local! {
            static STRIPE: usize = NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES;
        }
        let stripe = STRIPE.with(|s| *s);
        self.0[stripe].0.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> u64 {
        self.0.iter().map(|s| s.0.load(Ordering::Relaxed)).sum()
    }
}

/// Upper bounds (seconds) of the callback latency histogram.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

#[derive(Default)]
pub struct Metrics {
    sign_ins: Mutex<BTreeMap<(String, &'static str), u64>>,
    provider_errors: Mutex<BTreeMap<(String, &'static str), u64>>,
    callback: Mutex<Histogram>,
}

impl Metrics {
    pub fn sign_in(&self, provider: &str, outcome: &'static str) {
        *self.sign_ins.lock().expect("lock").entry((provider.to_string(), outcome)).or_default() += 1;
    }

    pub fn provider_error(&self, provider: &str, kind: &'static str) {
        *self.provider_errors.lock().expect("lock").entry((provider.to_string(), kind)).or_default() += 1;
    }

    pub fn observe_callback(&self, seconds: f64) {
        let mut h = self.callback.lock().expect("lock");
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.sum += seconds;
        h.count += 1;
    }

    /// The text exposition format (version 0.0.4).
    /// `sessions`: signed-in sessions (where the store can count them) and session states
    /// written to the store since start; `accounts` and `session_cache`: those caches' (entries,
    /// hits, misses); `quick_yeses`: the gate's yeses given before the session layers (cookie
    /// store only).
    pub fn render(
        &self,
        sessions: (Option<i64>, u64),
        accounts: (usize, u64, u64),
        session_cache: Option<(usize, u64, u64, bool)>,
        quick_yeses: Option<u64>,
    ) -> String {
        let (active_sessions, session_writes) = sessions;
        let mut out = String::new();
        out.push_str("# HELP gatehouse_sign_ins_total Completed callbacks by provider and outcome.\n");
        out.push_str("# TYPE gatehouse_sign_ins_total counter\n");
        for ((provider, outcome), n) in self.sign_ins.lock().expect("lock").iter() {
            let _ = writeln!(out, "gatehouse_sign_ins_total{{provider=\"{provider}\",outcome=\"{outcome}\"}} {n}");
        }
        out.push_str("# HELP gatehouse_provider_errors_total Failed sign-ins by provider and kind.\n");
        out.push_str("# TYPE gatehouse_provider_errors_total counter\n");
        for ((provider, kind), n) in self.provider_errors.lock().expect("lock").iter() {
            let _ = writeln!(out, "gatehouse_provider_errors_total{{provider=\"{provider}\",kind=\"{kind}\"}} {n}");
        }
        let h = self.callback.lock().expect("lock");
        out.push_str("# HELP gatehouse_callback_seconds Time to answer /callback.\n");
        out.push_str("# TYPE gatehouse_callback_seconds histogram\n");
        for (bound, n) in BUCKETS.iter().zip(h.counts) {
            let _ = writeln!(out, "gatehouse_callback_seconds_bucket{{le=\"{bound}\"}} {n}");
        }
        let _ = writeln!(out, "gatehouse_callback_seconds_bucket{{le=\"+Inf\"}} {}", h.count);
        let _ = writeln!(out, "gatehouse_callback_seconds_sum {}", h.sum);
        let _ = writeln!(out, "gatehouse_callback_seconds_count {}", h.count);
        if let Some(n) = active_sessions {
            out.push_str("# HELP gatehouse_active_sessions Signed-in sessions that have not expired.\n");
            out.push_str("# TYPE gatehouse_active_sessions gauge\n");
            let _ = writeln!(out, "gatehouse_active_sessions {n}");
        }
        out.push_str("# HELP gatehouse_session_store_writes_total Session states written to a server-side store.\n");
        out.push_str("# TYPE gatehouse_session_store_writes_total counter\n");
        let _ = writeln!(out, "gatehouse_session_store_writes_total {session_writes}");
        cache_lines(&mut out, "account_cache", "Signed-in users held in memory.", "Signed-in user lookups", accounts);
        if let Some((entries, hits, misses, serving)) = session_cache {
            out.push_str(
                "# HELP gatehouse_session_cache_serving 1 while the session cache may serve copies (its change \
                 listener is heard), else 0.\n",
            );
            out.push_str("# TYPE gatehouse_session_cache_serving gauge\n");
            let _ = writeln!(out, "gatehouse_session_cache_serving {}", u8::from(serving));
            let held = "Stored sessions held in memory (database store).";
            cache_lines(&mut out, "session_cache", held, "Session loads", (entries, hits, misses));
        }
        if let Some(n) = quick_yeses {
            out.push_str(
                "# HELP gatehouse_gate_quick_yes_total Yeses of /verify and /forward-auth to signed-in, allowed \
                 requests, given before the session layers (cookie store).\n",
            );
            out.push_str("# TYPE gatehouse_gate_quick_yes_total counter\n");
            let _ = writeln!(out, "gatehouse_gate_quick_yes_total {n}");
        }
        out
    }
}

/// A cache's entries gauge and its lookups counter, by whether memory had them.
fn cache_lines(out: &mut String, cache: &str, held: &str, lookups: &str, (entries, hits, misses): (usize, u64, u64)) {
    let _ = writeln!(out, "# HELP gatehouse_{cache}_entries {held}");
    let _ = writeln!(out, "# TYPE gatehouse_{cache}_entries gauge");
    let _ = writeln!(out, "gatehouse_{cache}_entries {entries}");
    let _ = writeln!(out, "# HELP gatehouse_{cache}_lookups_total {lookups}, by whether memory had them.");
    let _ = writeln!(out, "# TYPE gatehouse_{cache}_lookups_total counter");
    let _ = writeln!(out, "gatehouse_{cache}_lookups_total{{result=\"hit\"}} {hits}");
    let _ = writeln!(out, "gatehouse_{cache}_lookups_total{{result=\"miss\"}} {misses}");
}

#[cfg(test)]
mod tests {
    #[test]
    fn renders_counters_and_a_cumulative_histogram() {
        let m = super::Metrics::default();
        m.sign_in("github", "created");
        m.sign_in("github", "created");
        m.provider_error("google", "timeout");
        m.observe_callback(0.03);
        m.observe_callback(3.0);
        let text = m.render((Some(7), 0), (3, 10, 2), Some((4, 20, 5, true)), Some(12));
        assert!(text.contains("gatehouse_sign_ins_total{provider=\"github\",outcome=\"created\"} 2"));
        assert!(text.contains("gatehouse_provider_errors_total{provider=\"google\",kind=\"timeout\"} 1"));
        assert!(text.contains("gatehouse_callback_seconds_bucket{le=\"0.05\"} 1"));
        assert!(text.contains("gatehouse_callback_seconds_bucket{le=\"10\"} 2"));
        assert!(text.contains("gatehouse_callback_seconds_count 2"));
        assert!(text.contains("gatehouse_active_sessions 7"));
        assert!(text.contains("gatehouse_account_cache_lookups_total{result=\"hit\"} 10"));
        assert!(text.contains("gatehouse_session_cache_lookups_total{result=\"miss\"} 5"));
        assert!(text.contains("gatehouse_session_cache_serving 1"));
        assert!(text.contains("gatehouse_gate_quick_yes_total 12"));
        let without = m.render((None, 0), (0, 0, 0), None, None);
        assert!(!without.contains("gatehouse_session_cache") && !without.contains("quick_yes"));
    }
}
