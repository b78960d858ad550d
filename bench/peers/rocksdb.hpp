// RocksDB as a benchmark engine (kvbench engine contract, see bench/engine.hpp).
//
// Settings, all RocksDB defaults except:
//   - Options::create_if_missing = true, needed to open an empty directory at all.
//   - WriteOptions::sync = true in sync_each mode (each write waits for the log's fsync);
//     buffered mode keeps the default sync = false.
// flush() does nothing: with the default manual_wal_flush = false every write reaches the
// write-ahead log with write() before Put returns, so a reopen already sees it.
#pragma once

#include "../engine.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>

#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace kvbench {

class rocksdb_engine {
public:
    static constexpr std::string_view name = "rocksdb";
    static constexpr bool ordered = true;
    static constexpr bool concurrent = true;  // one rocksdb::DB may be used from many threads
    static constexpr std::string_view settings =
        "defaults; create_if_missing; buffered: WriteOptions.sync=false, sync_each: sync=true";

    explicit rocksdb_engine(const engine_config& config) {
        write_options_.sync = config.mode == durability::sync_each;
        rocksdb::Options options;
        options.create_if_missing = true;
        rocksdb::DB* db = nullptr;
        check(rocksdb::DB::Open(options, config.directory, &db), "open");
        db_.reset(db);
    }

    void put(std::string_view key, std::string_view value) {
        check(db_->Put(write_options_, slice(key), slice(value)), "put");
    }

    bool get(std::string_view key, std::string& value) {
        const rocksdb::Status status = db_->Get(rocksdb::ReadOptions(), slice(key), &value);
        if (status.IsNotFound()) return false;
        check(status, "get");
        return true;
    }

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        rocksdb::WriteBatch batch;
        for (const auto& [key, value] : puts) batch.Put(key, value);
        check(db_->Write(write_options_, &batch), "write_batch");
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        const std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions()));
        std::size_t count = 0;
        for (it->SeekToFirst(); it->Valid(); it->Next(), ++count) {
            visit(std::string_view(it->key().data(), it->key().size()),
                  std::string_view(it->value().data(), it->value().size()));
        }
        check(it->status(), "scan");
        return count;
    }

    void flush() {}

    void compact() { check(db_->CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr), "compact"); }

    static std::string version() { return rocksdb::GetRocksVersionAsString(); }

private:
    static rocksdb::Slice slice(std::string_view text) { return {text.data(), text.size()}; }

    static void check(const rocksdb::Status& status, const char* what) {
        if (!status.ok()) throw std::runtime_error(std::string("rocksdb ") + what + ": " + status.ToString());
    }

    std::unique_ptr<rocksdb::DB> db_;  // deleting the DB closes it
    rocksdb::WriteOptions write_options_;
};

}  // namespace kvbench
