// SQLite as a benchmark engine (kvbench engine contract, see bench/engine.hpp).
//
// Settings, all SQLite defaults except:
//   - journal_mode=WAL, the mode SQLite recommends for write-heavy use; synchronous=NORMAL in
//     buffered mode (commits do not fsync, checkpoints do), synchronous=FULL in sync_each mode
//     (every commit fsyncs the WAL).
//   - the table is kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID: a key-value table keyed by
//     a blob, stored as one B-tree keyed by k, so a read is one tree search and a record is
//     stored once, where a rowid table would add a second B-tree (the primary-key index)
//     beside the rowid table. SQLite advises WITHOUT ROWID for non-integer keys and rows far
//     smaller than a page, which is the case here (116-byte rows, 4 KiB pages).
//     Blobs compare with memcmp, so the scan order is the byte order the other engines use.
//   - every statement is prepared once and reused.
//   - buffered mode groups puts: one transaction holds up to 1,000 puts (a batch is never
//     split), flush() commits the open one; sync_each mode commits every put on its own
//     (autocommit) and every batch in one transaction.
//   - compact() runs VACUUM (SQLite's full rebuild of the file) and then a truncating WAL
//     checkpoint, since in WAL mode the rebuilt pages otherwise stay in the WAL file.
// Reads use the same connection, so they see the puts of the open transaction. The engine
// keeps transaction state, so it is not for concurrent use.
#pragma once

#include "../engine.hpp"

#include <sqlite3.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace kvbench {

class sqlite_engine {
public:
    static constexpr std::string_view name = "sqlite";
    static constexpr bool ordered = true;
    static constexpr bool concurrent = false;
    static constexpr std::string_view settings =
        "defaults; journal_mode=WAL; table kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID; prepared statements; "
        "buffered: synchronous=NORMAL, 1,000 puts per transaction; sync_each: synchronous=FULL, one "
        "transaction per put; compact: VACUUM + wal_checkpoint(TRUNCATE)";

    static constexpr std::size_t puts_per_transaction = 1000;

    explicit sqlite_engine(const engine_config& config) : sync_each_(config.mode == durability::sync_each) {
        const std::string path = config.directory + "/kv.sqlite3";
        sqlite3* db = nullptr;
        const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
        db_.reset(db);  // even a failed open returns a handle to close
        if (rc != SQLITE_OK) fail("open");
        execute("PRAGMA journal_mode=WAL");
        execute(sync_each_ ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
        execute("CREATE TABLE IF NOT EXISTS kv(k BLOB PRIMARY KEY, v BLOB) WITHOUT ROWID");
        put_ = prepare("INSERT OR REPLACE INTO kv(k, v) VALUES(?1, ?2)");
        get_ = prepare("SELECT v FROM kv WHERE k = ?1");
        scan_ = prepare("SELECT k, v FROM kv ORDER BY k");
        begin_ = prepare("BEGIN");
        commit_ = prepare("COMMIT");
    }

    ~sqlite_engine() {
        if (in_transaction_ && sqlite3_step(commit_.get()) != SQLITE_DONE) {
            std::fprintf(stderr, "sqlite: commit on close failed: %s\n", sqlite3_errmsg(db_.get()));
        }
    }

    sqlite_engine(const sqlite_engine&) = delete;
    sqlite_engine& operator=(const sqlite_engine&) = delete;

    void put(std::string_view key, std::string_view value) {
        if (!sync_each_) begin();
        insert(key, value);
        finish_puts(1);
    }

    bool get(std::string_view key, std::string& value) {
        sqlite3_stmt* stmt = get_.get();
        bind(stmt, 1, key);
        const int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) value.assign(column(stmt, 0));
        sqlite3_reset(stmt);
        if (rc == SQLITE_DONE) return false;
        if (rc != SQLITE_ROW) fail("get");
        return true;
    }

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        begin();
        for (const auto& [key, value] : puts) insert(key, value);
        finish_puts(puts.size());
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        sqlite3_stmt* stmt = scan_.get();
        std::size_t count = 0;
        int rc = SQLITE_ROW;
        while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
            visit(column(stmt, 0), column(stmt, 1));
            ++count;
        }
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) fail("scan");
        return count;
    }

    void flush() {
        pending_puts_ = 0;
        if (!in_transaction_) return;
        in_transaction_ = false;
        step(commit_.get(), "commit");
    }

    void compact() {
        flush();  // VACUUM cannot run inside a transaction
        execute("VACUUM");
        execute("PRAGMA wal_checkpoint(TRUNCATE)");
    }

    static std::string version() { return sqlite3_libversion(); }

private:
    struct close_connection {
        void operator()(sqlite3* db) const { sqlite3_close(db); }
    };
    struct finalize_statement {
        void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
    };
    using statement = std::unique_ptr<sqlite3_stmt, finalize_statement>;

    [[noreturn]] void fail(const char* what) const {
        throw std::runtime_error(std::string("sqlite ") + what + ": " + sqlite3_errmsg(db_.get()));
    }

    void execute(const char* sql) {
        if (sqlite3_exec(db_.get(), sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(sql);
    }

    statement prepare(const char* sql) {
        sqlite3_stmt* stmt = nullptr;
        if (sqlite3_prepare_v3(db_.get(), sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr) != SQLITE_OK) fail(sql);
        return statement(stmt);
    }

    /// Runs a statement that returns no rows and resets it for the next use.
    void step(sqlite3_stmt* stmt, const char* what) {
        const int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE) fail(what);
    }

    static void bind(sqlite3_stmt* stmt, int index, std::string_view bytes) {
        // A null pointer would bind SQL NULL, so an empty view binds an empty blob instead.
        // SQLITE_STATIC: the bytes outlive the step that reads them.
        sqlite3_bind_blob(stmt, index, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()),
                          SQLITE_STATIC);
    }

    static std::string_view column(sqlite3_stmt* stmt, int index) {
        const void* data = sqlite3_column_blob(stmt, index);  // before column_bytes, as SQLite asks
        return {static_cast<const char*>(data), static_cast<std::size_t>(sqlite3_column_bytes(stmt, index))};
    }

    /// Opens a transaction unless one is open.
    void begin() {
        if (in_transaction_) return;
        step(begin_.get(), "begin");
        in_transaction_ = true;
    }

    /// Inserts one record; a failure rolls back the open transaction, losing the puts of the
    /// whole group with it (the error is thrown, so the run stops anyway).
    void insert(std::string_view key, std::string_view value) {
        sqlite3_stmt* stmt = put_.get();
        bind(stmt, 1, key);
        bind(stmt, 2, value);
        const int rc = sqlite3_step(stmt);
        sqlite3_reset(stmt);
        if (rc == SQLITE_DONE) return;
        const std::string message = sqlite3_errmsg(db_.get());
        if (in_transaction_) {
            sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
            in_transaction_ = false;
            pending_puts_ = 0;
        }
        throw std::runtime_error("sqlite put: " + message);
    }

    /// Commits the open transaction once it holds enough puts for the mode.
    void finish_puts(std::size_t count) {
        pending_puts_ += count;
        if (sync_each_ || pending_puts_ >= puts_per_transaction) flush();
    }

    std::unique_ptr<sqlite3, close_connection> db_;  // declared first: closed after the statements
    statement put_;
    statement get_;
    statement scan_;
    statement begin_;
    statement commit_;
    bool sync_each_;
    bool in_transaction_ = false;
    std::size_t pending_puts_ = 0;  // puts in the open transaction
};

}  // namespace kvbench
