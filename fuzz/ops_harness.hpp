#pragma once
// Random operation sequences over a persistent store, checked against std::map: the
// harness behind fuzz/ops_fuzzer.cpp, also replayed by tests/reliability/fuzz_regression_test.cpp.
//
// The input's first byte picks the store configuration (the low two bits) and whether
// hint files are written (bit 2); the rest is read as operations, one opcode byte each
// followed by its operands:
//   put, erase, get, batch of up to 4 puts and erases, compact, close and reopen, clear,
//   full comparison (get of every key, and scan for a sorted index), flush/sync.
// Keys are one byte's choice among 24 short keys (so operations collide); a value is
// its length byte's count of bytes taken from the input. Compaction thresholds are low,
// so writes compact on their own too. Every result is compared with a std::map; a
// difference or any error aborts.

#include <kvforge/kvforge.hpp>

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "scratch_dir.hpp"

namespace kvforge_fuzz {

namespace ops_detail {

/// Reads operands from the input; past its end every read gives zero bytes.
class reader {
public:
    reader(const std::uint8_t* data, std::size_t size) : data_(data), size_(size) {}

    [[nodiscard]] bool done() const { return at_ >= size_; }
    unsigned byte() { return at_ < size_ ? data_[at_++] : 0U; }

    std::string key() {
        const unsigned choice = byte() % 24;
        if (choice == 0) return "";  // the empty key is a key like any other
        return std::string(choice % 3 + 1, static_cast<char>('a' + choice % 8)) + std::to_string(choice);
    }

    std::string value() {
        const std::size_t length = byte() % 64;
        std::string v;
        for (std::size_t i = 0; i < length && at_ < size_; ++i) v.push_back(static_cast<char>(data_[at_++]));
        return v;
    }

private:
    const std::uint8_t* data_;
    std::size_t size_;
    std::size_t at_ = 0;
};

inline void check(const std::error_code& ec, const char* what) {
    if (ec) finding(std::string(what) + " failed: " + kvforge::last_error_message());
}

template <class Store>
void compare_all(const Store& db, const std::map<std::string, std::string>& model) {
    if (db.size() != model.size()) finding("size() differs from the model");
    for (const auto& [key, value] : model) {
        std::error_code ec;
        const std::optional<std::string> got = db.get(key, ec);
        check(ec, "get");
        if (got != value) finding("get differs from the model for key '" + key + "'");
    }
    if constexpr (Store::index_policy::ordered) {
        std::error_code ec;
        std::map<std::string, std::string> scanned;
        for (const auto& [key, value] : db.scan("", "\xff", ec)) scanned.emplace(key, value);
        check(ec, "scan");
        if (scanned != model) finding("scan differs from the model");
    }
}

template <class Store>
void run(reader& in, bool hints) {
    const std::string path = scratch().fresh_store().string();
    kvforge::options opts;
    opts.compact_min_bytes = 512;
    opts.write_hints = hints;
    std::map<std::string, std::string> model;
    std::optional<Store> db;
    std::error_code ec;
    auto open = [&] {
        db.emplace();
        db->open(path, opts, {}, ec);
        check(ec, "open");
    };
    open();
    while (!in.done()) {
        switch (in.byte() % 10) {
            case 0:
            case 1: {
                const std::string key = in.key();
                const std::string value = in.value();
                db->put(key, value, ec);
                check(ec, "put");
                model[key] = value;
                break;
            }
            case 2: {
                const std::string key = in.key();
                const bool erased = db->erase(key, ec);
                check(ec, "erase");
                if (erased != (model.erase(key) == 1)) finding("erase's result differs from the model");
                break;
            }
            case 3: {
                const std::string key = in.key();
                const std::optional<std::string> got = db->get(key, ec);
                check(ec, "get");
                const auto it = model.find(key);
                if (got != (it == model.end() ? std::nullopt : std::optional(it->second)))
                    finding("get differs from the model");
                break;
            }
            case 4: {
                kvforge::batch<std::string, std::string> b;
                std::map<std::string, std::string> after = model;
                for (unsigned n = in.byte() % 4 + 1; n > 0; --n) {
                    const std::string key = in.key();
                    if (in.byte() % 3 == 0) {
                        b.erase(key);
                        after.erase(key);
                    } else {
                        const std::string value = in.value();
                        b.put(key, value);
                        after[key] = value;
                    }
                }
                db->write(b, ec);
                check(ec, "write");
                model = std::move(after);
                break;
            }
            case 5:
                db->compact(ec);
                check(ec, "compact");
                break;
            case 6:
                db->close(ec);
                check(ec, "close");
                open();
                compare_all(*db, model);
                break;
            case 7:
                db->clear(ec);
                check(ec, "clear");
                model.clear();
                break;
            case 8:
                compare_all(*db, model);
                break;
            default:
                if (in.byte() % 2 == 0) {
                    db->flush(ec);
                } else {
                    db->sync(ec);
                }
                check(ec, "flush or sync");
                break;
        }
    }
    db->close(ec);
    check(ec, "close");
    open();
    compare_all(*db, model);
    const kvforge::verify_report report = db->verify(ec);
    check(ec, "verify");
    if (!report.ok()) finding("verify finds damage in a store nothing damaged");
}

}  // namespace ops_detail

/// Runs one input (see the top of this file); aborts on a finding.
inline void run_ops_input(const std::uint8_t* input, std::size_t size) {
    using namespace kvforge;
    if (size == 0) return;
    ops_detail::reader in(input + 1, size - 1);
    const bool hints = (input[0] & 4U) == 0;
    switch (input[0] & 3U) {
        case 0:
            ops_detail::run<store<std::string, std::string, file_log, hash_index, buffered<>>>(in, hints);
            break;
        case 1:
            ops_detail::run<store<std::string, std::string, file_log, sorted_index, sync_each>>(in, hints);
            break;
        case 2:
            ops_detail::run<store<std::string, std::string, mmap_file, sorted_index, async_worker<>>>(in, hints);
            break;
        default:
            ops_detail::run<store<std::string, std::string, mmap_file, hash_index, buffered<>, thread_safe>>(in, hints);
            break;
    }
}

}  // namespace kvforge_fuzz
