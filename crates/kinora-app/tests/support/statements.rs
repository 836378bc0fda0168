//! Every statement sqlx executes, seen by a tracing layer on its `sqlx::query`
//! events: counted, and (while recording) kept in order with their SQL. The layer
//! is process-wide, so a test binary that uses it holds one test function.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use tracing_subscriber::layer::SubscriberExt;

static COUNT: AtomicUsize = AtomicUsize::new(0);
static RECORDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Statements;

/// The statement's SQL: `db.statement` when sqlx shortened it to `summary`.
#[derive(Default)]
struct Sql {
    summary: String,
    statement: String,
}

impl tracing::field::Visit for Sql {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "summary" => self.summary = value.to_owned(),
            "db.statement" => self.statement = value.trim().to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.record_str(field, format!("{value:?}").trim_matches('"'));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Statements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if event.metadata().target() != "sqlx::query" {
            return;
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
        let mut sql = Sql::default();
        event.record(&mut sql);
        let text = if sql.statement.is_empty() { sql.summary } else { sql.statement };
        if let Ok(mut r) = RECORDED.lock() {
            r.push(text);
        }
    }
}

/// Installs the layer (once per process).
pub fn install() {
    static ONCE: OnceLock<()> = OnceLock::new();
    ONCE.get_or_init(|| {
        tracing::subscriber::set_global_default(tracing_subscriber::registry().with(Statements)).expect("a global tracing subscriber");
    });
}

/// Statements executed so far.
pub fn count() -> usize {
    COUNT.load(Ordering::SeqCst)
}

/// The statements executed from now until [`taken`] is called.
pub fn start() {
    RECORDED.lock().expect("recorder").clear();
}

/// What was executed since [`start`], in order.
pub fn taken() -> Vec<String> {
    std::mem::take(&mut *RECORDED.lock().expect("recorder"))
}
