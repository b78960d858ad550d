// tkrzw's HashDBM and TreeDBM as benchmark engines (kvbench engine contract, see
// bench/engine.hpp): tkrzw_hash_engine and tkrzw_tree_engine.
//
// Settings, all tkrzw defaults (default tuning parameters, File::OPEN_DEFAULT) except:
//   - sync_each mode calls Synchronize(true) (fsync) after every put and every batch;
//     buffered mode never syncs on a write.
//   - flush() calls Synchronize(false): the database's own buffers and metadata (TreeDBM's
//     dirty pages, HashDBM's header) reach the file, without an fsync, so a reopen sees them.
//   - write_batch uses ProcessMulti, which applies all records under one lock, so no other
//     thread sees part of a batch. tkrzw has no transactions on these classes: a crash in
//     the middle can keep part of a batch.
//   - compact() calls Rebuild(), tkrzw's full compaction of the file.
//   - scan: TreeDBM through its iterator, which is documented to go in key order; HashDBM,
//     which has no order, through ProcessEach, its call for visiting every record (a
//     sequential read of the file rather than a walk of the buckets).
// Both classes are documented thread-safe: every operation may be called from several
// threads on one database.
#pragma once

#include "../engine.hpp"

#include <tkrzw_dbm_hash.h>
#include <tkrzw_dbm_tree.h>

#include <cstddef>
#include <cstdio>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace kvbench {

namespace tkrzw_detail {

template <class Database>
struct traits;

template <>
struct traits<tkrzw::HashDBM> {
    static constexpr std::string_view name = "tkrzw_hash";
    static constexpr bool ordered = false;
    static constexpr const char* file = "/kv.tkh";
};

template <>
struct traits<tkrzw::TreeDBM> {
    static constexpr std::string_view name = "tkrzw_tree";
    static constexpr bool ordered = true;
    static constexpr const char* file = "/kv.tkt";
};

/// Sets a record to one value, whether it exists or not.
class set_value final : public tkrzw::DBM::RecordProcessor {
public:
    explicit set_value(std::string_view value) : value_(value) {}
    std::string_view ProcessFull(std::string_view, std::string_view) override { return value_; }
    std::string_view ProcessEmpty(std::string_view) override { return value_; }

private:
    std::string_view value_;
};

/// Passes every existing record to a visitor, changing nothing.
template <class Visit>
class visit_records final : public tkrzw::DBM::RecordProcessor {
public:
    explicit visit_records(Visit& visit) : visit_(visit) {}
    std::string_view ProcessFull(std::string_view key, std::string_view value) override {
        visit_(key, value);
        ++count_;
        return NOOP;
    }
    std::size_t count() const { return count_; }

private:
    Visit& visit_;
    std::size_t count_ = 0;
};

}  // namespace tkrzw_detail

template <class Database>
class tkrzw_engine {
    using traits = tkrzw_detail::traits<Database>;

public:
    static constexpr std::string_view name = traits::name;
    static constexpr bool ordered = traits::ordered;
    static constexpr bool concurrent = true;
    static constexpr std::string_view settings =
        "defaults; buffered: no sync on writes, flush = Synchronize(false); sync_each: Synchronize(true) "
        "after each put; batch: ProcessMulti; compact: Rebuild()";

    explicit tkrzw_engine(const engine_config& config) : sync_each_(config.mode == durability::sync_each) {
        check(db_.Open(config.directory + traits::file, true), "open");
    }

    ~tkrzw_engine() {
        if (const tkrzw::Status status = db_.Close(); !status.IsOK()) {
            std::fprintf(stderr, "%s: close failed: %s\n", name.data(), tkrzw::ToString(status).c_str());
        }
    }

    tkrzw_engine(const tkrzw_engine&) = delete;
    tkrzw_engine& operator=(const tkrzw_engine&) = delete;

    void put(std::string_view key, std::string_view value) {
        check(db_.Set(key, value), "put");
        if (sync_each_) check(db_.Synchronize(true), "sync");
    }

    bool get(std::string_view key, std::string& value) {
        const tkrzw::Status status = db_.Get(key, &value);
        if (status == tkrzw::Status::NOT_FOUND_ERROR) return false;
        check(status, "get");
        return true;
    }

    void write_batch(std::span<const std::pair<std::string, std::string>> puts) {
        std::vector<tkrzw_detail::set_value> setters;
        setters.reserve(puts.size());  // no reallocation: the pairs below point into it
        std::vector<std::pair<std::string_view, tkrzw::DBM::RecordProcessor*>> records;
        records.reserve(puts.size());
        for (const auto& [key, value] : puts) records.emplace_back(key, &setters.emplace_back(value));
        check(db_.ProcessMulti(records, true), "write_batch");
        if (sync_each_) check(db_.Synchronize(true), "sync");
    }

    template <class Visit>
    std::size_t scan(Visit&& visit) {
        if constexpr (ordered) {
            const std::unique_ptr<tkrzw::DBM::Iterator> it = db_.MakeIterator();
            check(it->First(), "scan");
            std::size_t count = 0;
            std::string key;
            std::string value;
            for (;;) {
                const tkrzw::Status status = it->Get(&key, &value);
                if (status == tkrzw::Status::NOT_FOUND_ERROR) return count;
                check(status, "scan");
                visit(std::string_view(key), std::string_view(value));
                ++count;
                check(it->Next(), "scan");
            }
        } else {
            tkrzw_detail::visit_records<Visit> visitor(visit);
            check(db_.ProcessEach(&visitor, false), "scan");
            return visitor.count();
        }
    }

    void flush() { check(db_.Synchronize(false), "flush"); }

    void compact() { check(db_.Rebuild(), "compact"); }

    static std::string version() { return tkrzw::PACKAGE_VERSION; }

private:
    static void check(const tkrzw::Status& status, const char* what) {
        if (!status.IsOK()) {
            throw std::runtime_error(std::string(name) + " " + what + ": " + tkrzw::ToString(status));
        }
    }

    Database db_;
    bool sync_each_;
};

using tkrzw_hash_engine = tkrzw_engine<tkrzw::HashDBM>;
using tkrzw_tree_engine = tkrzw_engine<tkrzw::TreeDBM>;

}  // namespace kvbench
