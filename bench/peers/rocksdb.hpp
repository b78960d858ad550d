// RocksDB as a benchmark engine: see leveldb_family.hpp for the settings (with RocksDB's
// default manual_wal_flush = false, every write reaches the write-ahead log before Put returns).
#pragma once

#include "leveldb_family.hpp"

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/version.h>
#include <rocksdb/write_batch.h>

#include <string>
#include <string_view>

namespace kvbench {

struct rocksdb_library {
    using DB = rocksdb::DB;
    using Options = rocksdb::Options;
    using ReadOptions = rocksdb::ReadOptions;
    using WriteOptions = rocksdb::WriteOptions;
    using WriteBatch = rocksdb::WriteBatch;
    using Iterator = rocksdb::Iterator;
    using Slice = rocksdb::Slice;
    using Status = rocksdb::Status;
    static constexpr std::string_view name = "rocksdb";

    static std::string version() { return rocksdb::GetRocksVersionAsString(); }
    static Status compact(DB& db) { return db.CompactRange(rocksdb::CompactRangeOptions(), nullptr, nullptr); }
};

using rocksdb_engine = leveldb_family_engine<rocksdb_library>;

}  // namespace kvbench
