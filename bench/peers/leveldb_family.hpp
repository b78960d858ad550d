// The engine for LevelDB and RocksDB, whose C++ APIs are the same shape (RocksDB began
// as a fork of LevelDB): one class template over a traits type naming the library's
// namespace members (kvbench engine contract, see bench/engine.hpp).
//
// Settings, all the library's defaults except:
//   - Options::create_if_missing = true, needed to open an empty directory at all.
//   - WriteOptions::sync = true in sync_each mode (each write waits for the log's fsync);
//     buffered mode keeps the default sync = false.
// flush() does nothing: every write reaches the log file with write() before Put returns,
// so a reopen already sees it.
#pragma once

#include "../engine.hpp"

#include <cstddef>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

namespace kvbench {

/// Lib names the library: its types (DB, Options, ReadOptions, WriteOptions, WriteBatch,
/// Iterator, Slice, Status), name, settings, version() and compact(DB&).
template <class Lib>
class leveldb_family_engine {
public:
    static constexpr std::string_view name = Lib::name;
    static constexpr bool ordered = true;
    static constexpr bool concurrent = true;  // one DB may be used from many threads
    static constexpr std::string_view settings =
        "defaults; create_if_missing; buffered: WriteOptions.sync=false, sync_each: sync=true";

    explicit leveldb_family_engine(const engine_config& config) {
        write_options_.sync = config.mode == durability::sync_each;
        typename Lib::Options options;
        options.create_if_missing = true;
        typename Lib::DB* db = nullptr;
        check(Lib::DB::Open(options, config.directory, &db), "open");
        db_.reset(db);
    }

    void put(std::string_view key, std::string_view value) {
        check(db_->Put(write_options_, slice(key), slice(value)), "put");
    }

    bool get(std::string_view key, std::string& value) {
        const typename Lib::Status status = db_->Get(typename Lib::ReadOptions(), slice(key), &value);
        if (status.IsNotFound()) return false;
        check(status, "get");
        return true;
    }

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        typename Lib::WriteBatch batch;
        for (const auto& [key, value] : puts) batch.Put(key, value);
        check(db_->Write(write_options_, &batch), "write_batch");
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        const std::unique_ptr<typename Lib::Iterator> it(db_->NewIterator(typename Lib::ReadOptions()));
        std::size_t count = 0;
        for (it->SeekToFirst(); it->Valid(); it->Next(), ++count) {
            visit(std::string_view(it->key().data(), it->key().size()),
                  std::string_view(it->value().data(), it->value().size()));
        }
        check(it->status(), "scan");
        return count;
    }

    void flush() {}

    void compact() { check(Lib::compact(*db_), "compact"); }

    static std::string version() { return Lib::version(); }

private:
    static typename Lib::Slice slice(std::string_view text) { return {text.data(), text.size()}; }

    static void check(const typename Lib::Status& status, const char* what) {
        if (!status.ok()) throw std::runtime_error(std::string(name) + " " + what + ": " + status.ToString());
    }

    std::unique_ptr<typename Lib::DB> db_;  // deleting the DB closes it
    typename Lib::WriteOptions write_options_;
};

}  // namespace kvbench
