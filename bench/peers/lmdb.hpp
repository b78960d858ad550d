// LMDB as a benchmark engine (kvbench engine contract, see bench/engine.hpp).
//
// Settings, all LMDB defaults except:
//   - map size 4 GiB (mdb_env_set_mapsize): the default 10 MiB cannot hold a benchmark's data;
//     1,000,000 records of 116 bytes take about 0.2 GiB with the B+tree's overhead.
//   - buffered mode opens the environment with MDB_NOSYNC (commits do not fsync) and groups
//     puts: one write transaction holds up to 1,000 puts (a batch is never split), flush()
//     commits the open one. sync_each mode keeps the default flags (each commit is synced)
//     and commits every put in its own transaction.
// Reads inside a group see its uncommitted puts because they use the same write transaction;
// with none open they use one read transaction handle, renewed and reset around each read
// (LMDB's way of making repeated reads cheap). The engine keeps transaction state, so it is
// not for concurrent use. compact() does nothing: LMDB reuses freed pages in place and has
// no in-place compaction (only a compacting copy to another file).
#pragma once

#include "../engine.hpp"

#include <lmdb.h>

#include <cstddef>
#include <cstdio>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace kvbench {

class lmdb_engine {
public:
    static constexpr std::string_view name = "lmdb";
    static constexpr bool ordered = true;
    static constexpr bool concurrent = false;
    static constexpr std::string_view settings =
        "defaults; map size 4 GiB; buffered: MDB_NOSYNC, 1,000 puts per transaction; "
        "sync_each: default flags, one transaction per put";

    static constexpr std::size_t map_size = std::size_t{4} << 30;
    static constexpr std::size_t puts_per_transaction = 1000;

    explicit lmdb_engine(const engine_config& config) : sync_each_(config.mode == durability::sync_each) {
        check(mdb_env_create(&env_), "env_create");
        try {
            check(mdb_env_set_mapsize(env_, map_size), "set_mapsize");
            check(mdb_env_open(env_, config.directory.c_str(), sync_each_ ? 0 : MDB_NOSYNC, 0644), "env_open");
            MDB_txn* txn = nullptr;
            check(mdb_txn_begin(env_, nullptr, 0, &txn), "txn_begin");
            if (const int rc = mdb_dbi_open(txn, nullptr, 0, &dbi_); rc != MDB_SUCCESS) {
                mdb_txn_abort(txn);
                check(rc, "dbi_open");
            }
            check(mdb_txn_commit(txn), "txn_commit");
        } catch (...) {
            mdb_env_close(env_);
            throw;
        }
    }

    ~lmdb_engine() {
        if (write_txn_ != nullptr) {
            if (const int rc = mdb_txn_commit(write_txn_); rc != MDB_SUCCESS) {
                std::fprintf(stderr, "lmdb: commit on close failed: %s\n", mdb_strerror(rc));
            }
        }
        if (read_txn_ != nullptr) mdb_txn_abort(read_txn_);
        mdb_env_close(env_);
    }

    lmdb_engine(const lmdb_engine&) = delete;
    lmdb_engine& operator=(const lmdb_engine&) = delete;

    void put(std::string_view key, std::string_view value) {
        MDB_val k = val(key);
        MDB_val v = val(value);
        store(mdb_put(writer(), dbi_, &k, &v, 0), "put");
        finish_puts(1);
    }

    bool get(std::string_view key, std::string& value) {
        MDB_txn* txn = reader();
        MDB_val k = val(key);
        MDB_val v{};
        const int rc = mdb_get(txn, dbi_, &k, &v);
        if (rc == MDB_SUCCESS) value.assign(static_cast<const char*>(v.mv_data), v.mv_size);
        if (txn == read_txn_) mdb_txn_reset(read_txn_);
        if (rc == MDB_NOTFOUND) return false;
        check(rc, "get");
        return true;
    }

    /// Calls fn with a view of the value in the map, copying nothing; false when missing.
    template <class Fn>
    bool visit(std::string_view key, Fn&& fn) {
        MDB_txn* txn = reader();
        MDB_val k = val(key);
        MDB_val v{};
        const int rc = mdb_get(txn, dbi_, &k, &v);
        if (rc == MDB_SUCCESS) fn(std::string_view(static_cast<const char*>(v.mv_data), v.mv_size));
        if (txn == read_txn_) mdb_txn_reset(read_txn_);
        if (rc == MDB_NOTFOUND) return false;
        check(rc, "get");
        return true;
    }

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        MDB_txn* txn = writer();
        for (const auto& [key, value] : puts) {
            MDB_val k = val(key);
            MDB_val v = val(value);
            store(mdb_put(txn, dbi_, &k, &v, 0), "write_batch");
        }
        finish_puts(puts.size());
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        MDB_txn* txn = reader();
        MDB_cursor* cursor = nullptr;
        int rc = mdb_cursor_open(txn, dbi_, &cursor);
        std::size_t count = 0;
        if (rc == MDB_SUCCESS) {
            MDB_val k{};
            MDB_val v{};
            for (rc = mdb_cursor_get(cursor, &k, &v, MDB_FIRST); rc == MDB_SUCCESS;
                 rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT), ++count) {
                visit(std::string_view(static_cast<const char*>(k.mv_data), k.mv_size),
                      std::string_view(static_cast<const char*>(v.mv_data), v.mv_size));
            }
            mdb_cursor_close(cursor);
        }
        if (txn == read_txn_) mdb_txn_reset(read_txn_);
        if (rc != MDB_NOTFOUND) check(rc, "scan");
        return count;
    }

    void flush() {
        if (write_txn_ == nullptr) return;
        MDB_txn* txn = std::exchange(write_txn_, nullptr);
        pending_puts_ = 0;
        check(mdb_txn_commit(txn), "commit");
    }

    void compact() {}

    static std::string version() {
        int major = 0;
        int minor = 0;
        int patch = 0;
        mdb_version(&major, &minor, &patch);
        return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(patch);
    }

private:
    static MDB_val val(std::string_view text) {
        return {text.size(), const_cast<char*>(text.data())};  // LMDB takes keys and values as non-const
    }

    static void check(int rc, const char* what) {
        if (rc != MDB_SUCCESS) throw std::runtime_error(std::string("lmdb ") + what + ": " + mdb_strerror(rc));
    }

    /// The open write transaction, begun if there is none.
    MDB_txn* writer() {
        if (write_txn_ == nullptr) check(mdb_txn_begin(env_, nullptr, 0, &write_txn_), "txn_begin");
        return write_txn_;
    }

    /// The transaction to read in: the open write transaction, else the renewed read handle.
    MDB_txn* reader() {
        if (write_txn_ != nullptr) return write_txn_;
        if (read_txn_ == nullptr) {
            check(mdb_txn_begin(env_, nullptr, MDB_RDONLY, &read_txn_), "txn_begin");
        } else {
            check(mdb_txn_renew(read_txn_), "txn_renew");
        }
        return read_txn_;
    }

    /// Checks a write; a failed write leaves the transaction unusable, so it is aborted, losing
    /// the puts of the whole group with it (the error is thrown, so the run stops anyway).
    void store(int rc, const char* what) {
        if (rc == MDB_SUCCESS) return;
        mdb_txn_abort(std::exchange(write_txn_, nullptr));
        pending_puts_ = 0;
        check(rc, what);
    }

    /// Commits the write transaction once it holds enough puts for the mode.
    void finish_puts(std::size_t count) {
        pending_puts_ += count;
        if (sync_each_ || pending_puts_ >= puts_per_transaction) flush();
    }

    MDB_env* env_ = nullptr;
    MDB_dbi dbi_ = 0;
    MDB_txn* write_txn_ = nullptr;  // open write transaction holding uncommitted puts, if any
    MDB_txn* read_txn_ = nullptr;   // reset read-only handle, renewed for each read
    std::size_t pending_puts_ = 0;  // puts in write_txn_
    bool sync_each_;
};

}  // namespace kvbench
