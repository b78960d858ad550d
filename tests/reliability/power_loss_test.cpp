// Power loss at every point of a store's work, on a simulated file system.
//
// A scripted workload (puts, erases, batches, sync, compaction, close and reopen,
// clear) runs on a simulated file system frozen at call k, for k = 1, 2, ... until it
// finishes without reaching call k: the store is stopped just before its k-th I/O
// call and torn down. The power then fails, in each of three ways for the bytes
// appended since their file's last sync (dropped, torn, zero-filled), and a store
// reopened on what is left must open, pass verify(), and hold the contents of some
// prefix of the workload that covers every operation acknowledged before the stop:
// with sync_each each one that returned, with buffered<> those a sync() covered, with
// async_worker<> those durable_seq() or wait_durable() reported on disk.
//
// The trace of each whole run is audited as well (Pillai et al., OSDI 2014): a file
// is synced before it is renamed, and the directory of a file created or renamed is
// synced before a write is acknowledged or an old file is removed. A .tmp or hint file
// holds nothing an acknowledged write needs (recovery removes the first and reads the
// log whole without the second), so its entry may be unsynced at an acknowledgment:
// a closed segment's hint is written on the compaction thread beside the writers.
// An acknowledgment of writes (a write with sync_each, sync(), wait_durable(),
// durable_seq()) covers records the writer synced, so it needs synced only the entries of
// files whose data was synced after their entry changed: an entry another thread changed
// meanwhile (a compaction's output, synced before it was renamed) holds none of them. That
// of clear(), compact() or close() needs every entry synced.
//
// Each configuration prints one line with the crash states explored and the audit's
// checks. KVFORGE_TEST_POWER_LOSS_LONG=1 runs eight rounds of the workload instead of two;
// KVFORGE_TEST_SEED chooses the seed of the torn tails. KVFORGE_TEST_POWER_LOSS_STRIDE=n
// stops the workloads at every n-th call only, from a call the seed chooses (the sanitizer
// stages of tools/test.sh sample so; every call is explored in the ordinary builds).

#include <catch2/catch.hpp>

#include <fcntl.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include <kvforge/io/simulated.hpp>
#include <kvforge/kvforge.hpp>

namespace {

using contents = std::map<std::string, std::string>;

struct step {
    enum class kind { put, erase, batch, sync, wait_durable, compact, reopen, clear };
    kind what = kind::put;
    std::string key;
    std::string value;
    std::vector<std::pair<std::string, std::optional<std::string>>> batch;  // nullopt: erase
};

kvforge::options store_options() {
    kvforge::options opts;
    opts.compact_min_bytes = 1024;  // low enough that the overwrites compact on their own
    return opts;
}

/// A workload, the contents after each of its prefixes, and the options it runs with.
struct script {
    std::vector<step> steps;
    std::vector<contents> states;  // states[i]: after the first i steps
    kvforge::options opts = store_options();

    void add(step s) {
        contents next = states.back();
        switch (s.what) {
            case step::kind::put:
                next[s.key] = s.value;
                break;
            case step::kind::erase:
                next.erase(s.key);
                break;
            case step::kind::batch:
                for (const auto& [key, value] : s.batch) {
                    if (value) {
                        next[key] = *value;
                    } else {
                        next.erase(key);
                    }
                }
                break;
            case step::kind::clear:
                next.clear();
                break;
            default:
                break;
        }
        steps.push_back(std::move(s));
        states.push_back(std::move(next));
    }
};

/// A value of `size` bytes that names where it comes from.
std::string tagged_value(const std::string& tag, std::size_t size) {
    std::string bytes = tag;
    while (bytes.size() < size) bytes += static_cast<char>('a' + bytes.size() % 26);
    return bytes.substr(0, size);
}

/// The workload: each round overwrites values until automatic compaction runs, and
/// goes through every kind of step.
script make_script(int rounds) {
    using k = step::kind;
    script s;
    s.states.emplace_back();
    for (int round = 0; round < rounds; ++round) {
        const std::string r = "r" + std::to_string(round) + "-";
        s.add({k::put, "a", tagged_value(r + "a1", 10), {}});
        s.add({k::put, "b", tagged_value(r + "b1", 300), {}});
        s.add({k::put, "a", tagged_value(r + "a2", 20), {}});
        s.add({k::sync, "", "", {}});
        s.add({k::erase, "b", "", {}});
        s.add({k::batch, "", "",
               {{"c", tagged_value(r + "c1", 50)}, {"a", std::nullopt}, {"d", tagged_value(r + "d1", 400)}}});
        s.add({k::put, "e", "", {}});
        s.add({k::erase, "absent", "", {}});
        for (int i = 2; i <= 5; ++i) s.add({k::put, "b", tagged_value(r + "b" + std::to_string(i), 300), {}});
        s.add({k::compact, "", "", {}});
        s.add({k::put, "f", tagged_value(r + "f1", 30), {}});
        s.add({k::reopen, "", "", {}});
        s.add({k::erase, "c", "", {}});
        s.add({k::batch, "", "",
               {{"g", tagged_value(r + "g1", 70)}, {"h", tagged_value(r + "h1", 80)},
                {"a", tagged_value(r + "a3", 5)}}});
        s.add({k::wait_durable, "", "", {}});
        s.add({k::put, "big", tagged_value(r + "big", 1500), {}});
        s.add({k::clear, "", "", {}});
        s.add({k::put, "i", tagged_value(r + "i1", 40), {}});
        s.add({k::put, "a", tagged_value(r + "a4", 60), {}});
    }
    return s;
}

/// A workload whose values fill the smallest segments in a few writes, so that the
/// active segment is closed and a new one made several times a round, between every
/// kind of step, and compaction reads and writes several segments.
script make_rollover_script(int rounds) {
    using k = step::kind;
    script s;
    s.opts.segment_bytes = std::uint64_t{64} << 10;
    s.opts.compact_min_bytes = std::uint64_t{64} << 10;
    s.states.emplace_back();
    constexpr std::size_t large = 24 << 10;  // three fill a segment
    for (int round = 0; round < rounds; ++round) {
        const std::string r = "r" + std::to_string(round) + "-";
        s.add({k::put, "a", tagged_value(r + "a1", 10), {}});
        s.add({k::put, "b", tagged_value(r + "b1", large), {}});
        s.add({k::put, "c", tagged_value(r + "c1", large), {}});
        s.add({k::erase, "a", "", {}});
        s.add({k::put, "d", tagged_value(r + "d1", large), {}});
        s.add({k::batch, "", "",
               {{"e", tagged_value(r + "e1", large)}, {"b", std::nullopt}, {"f", tagged_value(r + "f1", 40)}}});
        s.add({k::sync, "", "", {}});
        s.add({k::put, "c", tagged_value(r + "c2", large), {}});
        s.add({k::put, "g", tagged_value(r + "g1", large), {}});
        s.add({k::wait_durable, "", "", {}});
        s.add({k::put, "d", tagged_value(r + "d2", large), {}});
        s.add({k::reopen, "", "", {}});
        s.add({k::put, "h", tagged_value(r + "h1", large), {}});
        s.add({k::erase, "e", "", {}});
        s.add({k::compact, "", "", {}});
        s.add({k::put, "i", tagged_value(r + "i1", large), {}});
        s.add({k::put, "c", tagged_value(r + "c3", large), {}});
        s.add({k::clear, "", "", {}});
        s.add({k::put, "j", tagged_value(r + "j1", large), {}});
    }
    return s;
}

constexpr const char* store_path = "/db";

template <class Store>
std::string power_loss_config_name() {
    return std::string(Store::store_policy::name) + "/" + std::string(Store::durability_policy::name) + "/" +
           (Store::index_policy::ordered ? "sorted_index" : "hash_index") + "/" +
           (Store::threading_policy::concurrent ? "thread_safe" : "single_thread");
}

/// How far a run got: steps attempted (the last may have failed part way) and the
/// prefix of them acknowledged as durable.
struct run_outcome {
    std::size_t attempted = 0;
    std::size_t acknowledged = 0;
};

/// How the note of an acknowledgment of writes ends (audit_directory_syncs).
constexpr std::string_view records_synced = ", their records synced";

/// Runs the script (and a final close) on fs, noting each acknowledgement in its trace.
template <class Store>
class workload_run {
public:
    workload_run(const script& s, std::shared_ptr<kvforge::simulated_file_system> fs)
        : script_(s), fs_(std::move(fs)) {}

    run_outcome run() {
        if (!open()) return outcome_;
        for (std::size_t i = 0; i < script_.steps.size(); ++i) {
            outcome_.attempted = i + 1;
            std::error_code ec;
            apply(i, ec);
            if (ec) {
                note_durable(i);
                return outcome_;  // the store is torn down as it is, like a process at a power loss
            }
            const step::kind what = script_.steps[i].what;
            if (durable_when_done(what)) acknowledge(i + 1, acknowledges_records(what) ? records_synced : "");
            note_durable(i + 1);
        }
        std::error_code ec;
        db_->close(ec);
        if (!ec) acknowledge(outcome_.attempted);
        return outcome_;
    }

private:
    static constexpr bool sequenced = Store::sequenced;

    bool open() {
        db_ = std::make_unique<Store>();
        std::error_code ec;
        db_->open(store_path, script_.opts, typename Store::io_policy(fs_), ec);
        session_start_ = outcome_.attempted;
        last_sequence_ = 0;
        sequences_.resize(script_.steps.size(), 0);
        return !ec;
    }

    /// Whether a step's acknowledgment covers only records the writer synced.
    static bool acknowledges_records(step::kind what) {
        return what == step::kind::put || what == step::kind::erase || what == step::kind::batch ||
               what == step::kind::sync || what == step::kind::wait_durable;
    }

    /// Whether a step that returned is durable, whatever the policy.
    static bool durable_when_done(step::kind what) {
        if (std::is_same_v<typename Store::durability_policy, kvforge::sync_each>) return true;
        return what == step::kind::sync || what == step::kind::wait_durable || what == step::kind::compact ||
               what == step::kind::reopen || what == step::kind::clear;
    }

    void apply(std::size_t i, std::error_code& ec) {
        const step& s = script_.steps[i];
        switch (s.what) {
            case step::kind::put:
                if constexpr (sequenced) {
                    last_sequence_ = db_->put(s.key, s.value, ec);
                } else {
                    db_->put(s.key, s.value, ec);
                }
                break;
            case step::kind::erase: {
                const bool existed = script_.states[i].count(s.key) != 0;
                const bool erased = db_->erase(s.key, ec);
                if (!ec && erased != existed) FAIL("erase of " << s.key << " returned " << erased);
                if (erased) ++last_sequence_;  // an erase writes a record, numbered as the next one
                break;
            }
            case step::kind::batch: {
                typename Store::batch_type b;
                for (const auto& [key, value] : s.batch) {
                    if (value) {
                        b.put(key, *value);
                    } else {
                        b.erase(key);
                    }
                }
                if constexpr (sequenced) {
                    last_sequence_ = db_->write(b, ec);
                } else {
                    db_->write(b, ec);
                }
                break;
            }
            case step::kind::sync:
                db_->sync(ec);
                break;
            case step::kind::wait_durable:
                if constexpr (sequenced) {
                    db_->wait_durable(last_sequence_, ec);
                } else {
                    db_->sync(ec);
                }
                break;
            case step::kind::compact:
                db_->compact(ec);
                break;
            case step::kind::reopen:
                db_->close(ec);
                db_.reset();
                if (!ec && !open()) ec = std::make_error_code(std::errc::io_error);
                break;
            case step::kind::clear:
                db_->clear(ec);
                break;
        }
        sequences_[i] = last_sequence_;
    }

    /// async_worker: acknowledges the steps of this session whose records durable_seq() covers.
    void note_durable(std::size_t done) {
        if constexpr (sequenced) {
            if (!db_ || !db_->is_open()) return;
            const std::uint64_t durable = db_->durable_seq();
            std::size_t covered = outcome_.acknowledged;
            for (std::size_t i = std::max(session_start_, covered); i < done; ++i) {
                if (sequences_[i] <= durable) covered = i + 1;
            }
            acknowledge(covered, records_synced);
        } else {
            (void)done;
        }
    }

    /// Notes that the first `steps` steps are durable; how is records_synced for an
    /// acknowledgment of writes.
    void acknowledge(std::size_t steps, std::string_view how = {}) {
        if (steps <= outcome_.acknowledged) return;
        outcome_.acknowledged = steps;
        fs_->note("acknowledged " + std::to_string(steps) + " steps" + std::string(how));
    }

    const script& script_;
    std::shared_ptr<kvforge::simulated_file_system> fs_;
    std::unique_ptr<Store> db_;
    run_outcome outcome_;
    std::size_t session_start_ = 0;
    std::uint64_t last_sequence_ = 0;    // the sequence number of this session's last record
    std::vector<std::uint64_t> sequences_;  // per step: last_sequence_ after it
};

template <class Store>
bool read_recovered(const Store& db, contents& out, std::error_code& ec) {
    out.clear();
    db.for_each([&](const std::string& key, const std::string& value) { out.emplace(key, value); }, ec);
    return !ec;
}

/// Reopens the store on a crashed file system and checks it; an empty string when all
/// is well, else what went wrong.
template <class Store>
std::string check_after_power_loss(const script& s, const run_outcome& before,
                                   const std::shared_ptr<kvforge::simulated_file_system>& fs) {
    Store db;
    std::error_code ec;
    db.open(store_path, s.opts, typename Store::io_policy(fs), ec);
    if (ec) return "reopen failed: " + ec.message() + " (" + kvforge::last_error_message() + ")";
    const kvforge::verify_report report = db.verify(ec);
    if (ec) return "verify failed: " + ec.message();
    if (!report.damaged.empty()) {
        return "verify found damage at offset " + std::to_string(report.damaged.front().offset) + ": " +
               report.damaged.front().problem;
    }
    contents found;
    if (!read_recovered(db, found, ec)) return "reading the contents failed: " + ec.message();
    std::optional<std::size_t> prefix;
    for (std::size_t j = before.acknowledged; j <= before.attempted && !prefix; ++j) {
        if (s.states[j] == found) prefix = j;
    }
    if (!prefix) {
        return "the contents (" + std::to_string(found.size()) + " keys) are no prefix of steps " +
               std::to_string(before.acknowledged) + ".." + std::to_string(before.attempted);
    }

    // The recovered store takes writes, and keeps them across a clean reopen.
    db.put("after the crash", "written", ec);
    if (!ec) db.close(ec);
    if (ec) return "writing after recovery failed: " + ec.message();
    Store again;
    again.open(store_path, s.opts, typename Store::io_policy(fs), ec);
    contents expected = s.states[*prefix];
    expected["after the crash"] = "written";
    if (ec || !read_recovered(again, found, ec) || found != expected) return "a write after recovery was not kept";
    return {};
}

/// What the directory-sync audit found in a trace.
struct audit_result {
    std::size_t checks = 0;
    std::vector<std::string> violations;
};

std::string parent_of(const std::string& path) {
    const std::size_t slash = path.rfind('/');
    return slash == 0 ? "/" : path.substr(0, slash);
}

/// Whether a path names a file no acknowledged write needs: a .tmp or a hint file.
bool only_speeds_up(const std::string& path) {
    const auto name = kvforge::detail::store_file_name::recognise(path.substr(path.rfind('/') + 1));
    return name && (name->is_temporary() || name->kind() == kvforge::detail::store_file_kind::hint);
}

/// Checks the rules of a durable update in a trace: a file is synced after its last
/// write before it is renamed; a directory is synced after a file was created or
/// renamed in it before any write is acknowledged and before a file is removed from it,
/// unless that file is one only_speeds_up(). An acknowledgment of writes ("..., their
/// records synced") needs synced only the entries of files whose data was synced after
/// they changed (see the file's head).
audit_result audit_directory_syncs(const std::vector<kvforge::simulated_call>& trace) {
    using kind = kvforge::simulated_call::kind;
    struct entry_change {
        std::uint64_t file = 0;
        std::size_t at = 0;  // its place in the trace
        std::string what;
    };
    audit_result audit;
    std::map<std::uint64_t, std::string> unsynced_files;                // file -> its path at the last write
    std::map<std::string, std::vector<entry_change>> unsynced_entries;  // directory -> what changed in it
    std::map<std::uint64_t, std::size_t> data_synced_at;                // file -> the place of its last sync
    std::size_t position = 0;
    const auto changed = [&](const kvforge::simulated_call& call, const std::string& path, const std::string& what) {
        if (only_speeds_up(path)) return;
        unsynced_entries[parent_of(path)].push_back({call.file, position, what + " " + path});
    };
    // The first change an acknowledgment finds unsynced, or none.
    const auto needed_unsynced = [&](const std::vector<entry_change>& changes, bool of_records) {
        for (const entry_change& change : changes) {
            const auto synced = data_synced_at.find(change.file);
            if (!of_records || (synced != data_synced_at.end() && synced->second > change.at)) return &change;
        }
        return static_cast<const entry_change*>(nullptr);
    };
    // The first change in directory that a removal finds unsynced (it needs every one synced), or none.
    const auto pending = [&](const std::string& directory) {
        const auto found = unsynced_entries.find(directory);
        return found == unsynced_entries.end() ? nullptr : needed_unsynced(found->second, false);
    };
    for (const kvforge::simulated_call& call : trace) {
        ++position;
        const std::string at = " (call " + std::to_string(call.number) + ")";
        if (call.call == kind::note) {
            if (call.path.rfind("acknowledged", 0) != 0) continue;
            ++audit.checks;
            const bool of_records = call.path.ends_with(records_synced);
            for (const auto& [directory, changes] : unsynced_entries) {
                if (const entry_change* change = needed_unsynced(changes, of_records)) {
                    audit.violations.push_back(call.path + " with " + directory + " not synced after " +
                                               change->what + at);
                }
            }
            continue;
        }
        if (call.result == -1) continue;  // a failed call changed nothing
        switch (call.call) {
            case kind::open:
                if (call.created) changed(call, call.path, "created");
                if (!call.created && (call.flags & O_TRUNC) != 0) unsynced_files[call.file] = call.path;
                break;
            case kind::mkdir:
                changed(call, call.path, "created");
                break;
            case kind::pwrite:
            case kind::ftruncate:
                unsynced_files[call.file] = call.path;
                break;
            case kind::fsync:
            case kind::fdatasync:
                if (call.directory) {
                    unsynced_entries.erase(call.path);
                } else {
                    unsynced_files.erase(call.file);
                    data_synced_at[call.file] = position;
                }
                break;
            case kind::rename:
                ++audit.checks;
                if (unsynced_files.count(call.file) != 0) {
                    audit.violations.push_back("renamed " + call.path + " to " + call.target +
                                               " before syncing its data" + at);
                }
                changed(call, call.path, "renamed");
                changed(call, call.target, "renamed");
                break;
            case kind::unlink:
                ++audit.checks;
                if (const entry_change* change = pending(parent_of(call.path))) {
                    audit.violations.push_back("removed " + call.path + " before syncing its directory after " +
                                               change->what + at);
                }
                break;
            default:
                break;
        }
    }
    return audit;
}

std::uint64_t torn_tail_seed() {
    const char* configured = std::getenv("KVFORGE_TEST_SEED");
    return configured != nullptr ? std::strtoull(configured, nullptr, 10) : 20140101;
}

/// 1, or the stride KVFORGE_TEST_POWER_LOSS_STRIDE sets between the calls a workload is stopped at.
std::uint64_t crash_point_stride() {
    const char* configured = std::getenv("KVFORGE_TEST_POWER_LOSS_STRIDE");
    const std::uint64_t stride = configured != nullptr ? std::strtoull(configured, nullptr, 10) : 1;
    return std::max<std::uint64_t>(stride, 1);
}

/// Durability that writes to the OS every 512 bytes and never on a timer, so that
/// bytes reach the file in the middle of the workload, at the same calls every run.
using small_buffer = kvforge::buffered<512, 3600000>;

using power_loss_configs =
    std::tuple<kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each, kvforge::hash_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::file_log, small_buffer, kvforge::hash_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::buffered<>, kvforge::sorted_index,
                              kvforge::thread_safe, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>, kvforge::hash_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::file_log, kvforge::async_worker<>,
                              kvforge::sorted_index, kvforge::thread_safe, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::sync_each, kvforge::sorted_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, small_buffer, kvforge::hash_index,
                              kvforge::single_thread, kvforge::simulated_io>,
               kvforge::store<std::string, std::string, kvforge::mmap_file, kvforge::async_worker<>,
                              kvforge::hash_index, kvforge::single_thread, kvforge::simulated_io>>;

/// What exploring every crash point of a script found.
struct crash_exploration {
    std::size_t crash_points = 0;
    std::size_t crash_states = 0;
    std::string first_problem;  // empty when every crash state recovered as it must
    audit_result audit;         // of the whole run's trace
};

/// Runs the script frozen at call k, for k = 1, 2, ... (or every stride-th k) until it
/// finishes without reaching call k, and checks recovery from a power loss at each point in
/// every tail mode.
template <class Store>
crash_exploration explore_crashes(const script& s, std::uint64_t seed, std::uint64_t stride = crash_point_stride()) {
    crash_exploration found;
    for (std::uint64_t k = 1 + seed % stride;; k += stride) {
        auto fs = std::make_shared<kvforge::simulated_file_system>();
        fs->freeze_at(k);
        const run_outcome before = workload_run<Store>(s, fs).run();
        ++found.crash_points;
        for (const kvforge::crash_tail tail :
             {kvforge::crash_tail::dropped, kvforge::crash_tail::torn, kvforge::crash_tail::zero_filled}) {
            const std::string problem = check_after_power_loss<Store>(s, before, fs->after_crash(tail, seed ^ k));
            ++found.crash_states;
            if (!problem.empty() && found.first_problem.empty()) {
                found.first_problem = "power loss before call " + std::to_string(k) + " (tail " +
                                      std::to_string(static_cast<int>(tail)) + ", " +
                                      std::to_string(before.attempted) + " steps attempted, " +
                                      std::to_string(before.acknowledged) + " acknowledged): " + problem;
            }
        }
        if (fs->calls() < k) {  // the run was never stopped: this was the whole workload
            if (before.acknowledged != s.steps.size() && found.first_problem.empty()) {
                found.first_problem = "the whole workload ran but only " + std::to_string(before.acknowledged) +
                                      " steps were acknowledged";
            }
            found.audit = audit_directory_syncs(fs->trace());
            return found;
        }
    }
}

/// A disk that acknowledges fdatasync without keeping anything.
struct lying_disk_io : kvforge::simulated_io {
    using simulated_io::simulated_io;
    int fdatasync(int) noexcept { return 0; }
};

}  // namespace

TEMPLATE_LIST_TEST_CASE("power loss after every I/O call leaves a prefix covering every acknowledged write",
                        "[reliability][power_loss]", power_loss_configs) {
    const bool long_run = std::getenv("KVFORGE_TEST_POWER_LOSS_LONG") != nullptr;
    const std::uint64_t seed = torn_tail_seed();
    const std::string name = power_loss_config_name<TestType>();
    INFO(name << ", torn tail seed " << seed);

    const crash_exploration found = explore_crashes<TestType>(make_script(long_run ? 8 : 2), seed);
    CHECK(found.first_problem == "");
    for (const std::string& violation : found.audit.violations) UNSCOPED_INFO(violation);
    CHECK(found.audit.violations.empty());
    CHECK(found.audit.checks > 0);
    std::cout << "power loss: " << name << ": " << found.crash_points << " crash points, " << found.crash_states
              << " crash states reopened and checked; directory-sync audit: " << found.audit.checks << " checks, "
              << found.audit.violations.size() << " violations\n";
}

TEMPLATE_LIST_TEST_CASE("power loss across segment rollovers leaves a prefix covering every acknowledged write",
                        "[reliability][power_loss][segments]", power_loss_configs) {
    const std::uint64_t seed = torn_tail_seed();
    const std::string name = power_loss_config_name<TestType>();
    INFO(name << ", torn tail seed " << seed);

    const crash_exploration found = explore_crashes<TestType>(make_rollover_script(2), seed);
    CHECK(found.first_problem == "");
    for (const std::string& violation : found.audit.violations) UNSCOPED_INFO(violation);
    CHECK(found.audit.violations.empty());
    std::cout << "power loss across rollovers: " << name << ": " << found.crash_points << " crash points, "
              << found.crash_states << " crash states reopened and checked\n";
}

TEMPLATE_LIST_TEST_CASE(
    "power loss between the steps of a compaction job leaves a prefix covering every acknowledged write",
    "[reliability][power_loss][segments]", power_loss_configs) {
    const std::uint64_t seed = torn_tail_seed();
    const std::string name = power_loss_config_name<TestType>();
    INFO(name << ", torn tail seed " << seed);

    // Steps smaller than a record: each job reads and copies one record after each write,
    // so writes, rollovers, clear and compact come between its steps.
    script steps = make_rollover_script(2);
    steps.opts.compaction_step_bytes = 4 << 10;
    const crash_exploration found = explore_crashes<TestType>(steps, seed);
    CHECK(found.first_problem == "");
    for (const std::string& violation : found.audit.violations) UNSCOPED_INFO(violation);
    CHECK(found.audit.violations.empty());
    std::cout << "power loss between compaction steps: " << name << ": " << found.crash_points << " crash points, "
              << found.crash_states << " crash states reopened and checked\n";
}

TEST_CASE("power loss: a disk that ignores fdatasync is caught", "[reliability][power_loss]") {
    using lied_to = kvforge::store<std::string, std::string, kvforge::file_log, kvforge::sync_each, kvforge::hash_index,
                                   kvforge::single_thread, lying_disk_io>;
    const crash_exploration found = explore_crashes<lied_to>(make_script(1), torn_tail_seed(), 1);
    CHECK(found.first_problem != "");
}

TEST_CASE("directory-sync audit: renames of unsynced files and unsynced entries are violations",
          "[reliability][power_loss]") {
    auto fs = std::make_shared<kvforge::simulated_file_system>();
    kvforge::simulated_io io(fs);
    const auto sync_root = [&] {
        const int dir = io.open("/", O_RDONLY | O_DIRECTORY, 0);
        REQUIRE(io.fsync(dir) == 0);
        io.close(dir);
    };
    const int fd = io.open("/a.tmp", O_RDWR | O_CREAT, 0644);
    REQUIRE(io.pwrite(fd, "x", 1, 0) == 1);
    REQUIRE(io.rename("/a.tmp", "/a") == 0);  // 1: renamed before its data was synced
    fs->note("acknowledged 1 steps");          // 2: the rename's directory is not synced
    REQUIRE(io.unlink("/old") == -1);          // failed calls are not judged
    REQUIRE(io.fdatasync(fd) == 0);
    REQUIRE(io.rename("/a", "/b") == 0);  // synced: fine
    REQUIRE(io.close(io.open("/c", O_RDWR | O_CREAT, 0644)) == 0);
    REQUIRE(io.unlink("/b") == 0);  // 3: removed while the creation of /c is not synced
    sync_root();
    fs->note("acknowledged 2 steps");  // all synced: fine

    const audit_result audit = audit_directory_syncs(fs->trace());
    REQUIRE(audit.violations.size() == 3);
    CHECK(audit.violations[0].rfind("renamed /a.tmp to /a before syncing its data", 0) == 0);
    CHECK(audit.violations[1].rfind("acknowledged 1 steps with / not synced after created /a.tmp", 0) == 0);
    CHECK(audit.violations[2].rfind("removed /b before syncing its directory after created /a.tmp", 0) == 0);
    CHECK(audit.checks == 5);
}

TEST_CASE("directory-sync audit: a hint or .tmp file's entry may be unsynced at an acknowledgment",
          "[reliability][power_loss]") {
    auto fs = std::make_shared<kvforge::simulated_file_system>();
    kvforge::simulated_io io(fs);
    const int hint = io.open("/data-0000000001.kvhint.tmp", O_RDWR | O_CREAT, 0644);
    REQUIRE(io.pwrite(hint, "h", 1, 0) == 1);
    fs->note("acknowledged 1 steps");  // fine: a .tmp is never read
    REQUIRE(io.fdatasync(hint) == 0);
    REQUIRE(io.rename("/data-0000000001.kvhint.tmp", "/data-0000000001.kvhint") == 0);
    fs->note("acknowledged 2 steps");  // fine: without its hint a segment is read whole
    REQUIRE(io.close(io.open("/data-0000000002.kvlog", O_RDWR | O_CREAT, 0644)) == 0);
    fs->note("acknowledged 3 steps");  // a segment's entry must be synced

    const audit_result audit = audit_directory_syncs(fs->trace());
    REQUIRE(audit.violations.size() == 1);
    CHECK(audit.violations[0].rfind("acknowledged 3 steps with / not synced after created /data-0000000002.kvlog", 0) ==
          0);
}

TEST_CASE("directory-sync audit: an acknowledgment of writes needs the entries of files synced since they changed",
          "[reliability][power_loss]") {
    auto fs = std::make_shared<kvforge::simulated_file_system>();
    kvforge::simulated_io io(fs);
    const int dir = io.open("/", O_RDONLY | O_DIRECTORY, 0);
    const int segment = io.open("/data-0000000001.kvlog", O_RDWR | O_CREAT, 0644);
    REQUIRE(io.pwrite(segment, "r", 1, 0) == 1);
    REQUIRE(io.fdatasync(segment) == 0);
    fs->note("acknowledged 1 steps, their records synced");  // 1: their file's entry is unsynced
    REQUIRE(io.fsync(dir) == 0);
    // Another thread publishes a compaction's output while the writer syncs its records.
    const int output = io.open("/data-0000000002.kvlog.tmp", O_RDWR | O_CREAT, 0644);
    REQUIRE(io.pwrite(output, "c", 1, 0) == 1);
    REQUIRE(io.fdatasync(output) == 0);
    REQUIRE(io.rename("/data-0000000002.kvlog.tmp", "/data-0000000002.kvlog") == 0);
    REQUIRE(io.pwrite(segment, "s", 1, 1) == 1);
    REQUIRE(io.fdatasync(segment) == 0);
    fs->note("acknowledged 2 steps, their records synced");  // fine: no record of step 2 is in the output
    fs->note("acknowledged 3 steps");  // 2: that of clear(), compact() or close() needs every entry synced
    REQUIRE(io.pwrite(output, "t", 1, 1) == 1);
    REQUIRE(io.fdatasync(output) == 0);
    fs->note("acknowledged 4 steps, their records synced");  // 3: records synced in the renamed file
    REQUIRE(io.fsync(dir) == 0);
    fs->note("acknowledged 5 steps, their records synced");  // all synced: fine

    const audit_result audit = audit_directory_syncs(fs->trace());
    REQUIRE(audit.violations.size() == 3);
    const std::string created = " with / not synced after created /data-0000000001.kvlog";
    const std::string renamed = " with / not synced after renamed /data-0000000002.kvlog";
    CHECK(audit.violations[0].rfind("acknowledged 1 steps, their records synced" + created, 0) == 0);
    CHECK(audit.violations[1].rfind("acknowledged 3 steps" + renamed, 0) == 0);
    CHECK(audit.violations[2].rfind("acknowledged 4 steps, their records synced" + renamed, 0) == 0);
    io.close(output);
    io.close(segment);
    io.close(dir);
}
