// LevelDB as a benchmark engine: see leveldb_family.hpp for the settings.
#pragma once

#include "leveldb_family.hpp"

#include <leveldb/db.h>
#include <leveldb/write_batch.h>

#include <string>
#include <string_view>

namespace kvbench {

struct leveldb_library {
    using DB = leveldb::DB;
    using Options = leveldb::Options;
    using ReadOptions = leveldb::ReadOptions;
    using WriteOptions = leveldb::WriteOptions;
    using WriteBatch = leveldb::WriteBatch;
    using Iterator = leveldb::Iterator;
    using Slice = leveldb::Slice;
    using Status = leveldb::Status;
    static constexpr std::string_view name = "leveldb";

    static std::string version() {
        return std::to_string(leveldb::kMajorVersion) + "." + std::to_string(leveldb::kMinorVersion);
    }
    /// LevelDB's CompactRange reports nothing.
    static Status compact(DB& db) {
        db.CompactRange(nullptr, nullptr);
        return Status::OK();
    }
};

using leveldb_engine = leveldb_family_engine<leveldb_library>;

}  // namespace kvbench
