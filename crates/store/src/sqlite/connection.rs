//! The connections of one SQLite database: one writer, a few readers.
//!
//! SQLite allows one writer at a time per file; in WAL mode readers run beside it and see the
//! last committed state. So writes queue on one connection behind a mutex (in this process;
//! `busy_timeout` covers another process such as the CLI writing at the same time), and reads
//! check a connection out of a small fixed pool. Both are used from tokio's blocking pool
//! only: waiting on these locks blocks a thread, never the async runtime.

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::error::DbContext;
use crate::StoreResult;

/// How long a statement waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Statements kept prepared per connection. The issue search builds a different SQL text per
/// combination of filters, so this is larger than rusqlite's default of 16.
const STATEMENT_CACHE: usize = 128;

/// Opens the connection that does all of this process's writes.
///
/// `synchronous=FULL`: every commit is fsynced, in the WAL, before it returns. An event that
/// got a 200 must survive power loss, and with `NORMAL` the last transactions before a power
/// cut can be lost (they are durable against a crash of the process only). The cost is one
/// fsync per transaction, which is why writes are batched into few transactions.
pub(crate) fn open_writer(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).db("opening the database")?;
    configure(&conn)?;
    // WAL is a property of the file, kept across opens; readers need it to read beside the
    // writer.
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
        .db("enabling WAL")?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(crate::StoreError::Database(format!(
            "enabling WAL: the database stayed in `{mode}` mode"
        )));
    }
    conn.pragma_update(None, "synchronous", "FULL")
        .db("setting synchronous=FULL")?;
    // Multi-row inserts keep a statement journal for the rows they may have to undo; in memory
    // it costs no temporary file writes (it lives only as long as one statement).
    conn.pragma_update(None, "temp_store", "MEMORY")
        .db("setting temp_store=MEMORY")?;
    Ok(conn)
}

/// Opens a read-only connection; the writer must have created the file and set WAL.
pub(crate) fn open_reader(path: &Path) -> StoreResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags).db("opening a reader")?;
    configure(&conn)?;
    Ok(conn)
}

/// Settings that hold per connection rather than per file.
fn configure(conn: &Connection) -> StoreResult<()> {
    conn.busy_timeout(BUSY_TIMEOUT).db("setting busy_timeout")?;
    conn.pragma_update(None, "foreign_keys", "ON")
        .db("enabling foreign keys")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// The writer, and readers checked out one at a time.
pub(crate) struct Connections {
    writer: Mutex<Connection>,
    idle_readers: Mutex<Vec<Connection>>,
    reader_returned: Condvar,
}

impl Connections {
    pub(crate) fn new(writer: Connection, readers: Vec<Connection>) -> Connections {
        Connections {
            writer: Mutex::new(writer),
            idle_readers: Mutex::new(readers),
            reader_returned: Condvar::new(),
        }
    }

    /// Runs `f` on the writer, after every write queued before it.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        // A panic inside `f` poisons the mutex; the connection is still sound (an open
        // transaction was rolled back when it was dropped), so keep using it.
        let mut conn = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut conn)
    }

    /// Runs `f` on a reader, waiting for one to be free.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> StoreResult<T>) -> StoreResult<T> {
        let reader = self.check_out();
        f(reader
            .conn
            .as_ref()
            .expect("a checked-out reader holds its connection until dropped"))
    }

    fn check_out(&self) -> Reader<'_> {
        let mut idle = lock(&self.idle_readers);
        loop {
            if let Some(conn) = idle.pop() {
                return Reader {
                    conn: Some(conn),
                    pool: self,
                };
            }
            idle = self
                .reader_returned
                .wait(idle)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A checked-out reader; goes back to the pool when dropped, also when the query panicked, so
/// the pool never shrinks.
struct Reader<'a> {
    conn: Option<Connection>,
    pool: &'a Connections,
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            lock(&self.pool.idle_readers).push(conn);
            self.pool.reader_returned.notify_one();
        }
    }
}
