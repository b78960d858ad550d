#pragma once
/// \file copy.hpp
/// kvforge::copy: every record of one store into another, of any two compositions.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <system_error>
#include <type_traits>

#include "batch.hpp"
#include "error.hpp"

namespace kvforge {

/// How far a copy has got.
struct copy_progress {
    std::uint64_t done = 0;   ///< records written to the destination so far
    std::uint64_t total = 0;  ///< records the source held when the copy began
};

/// Settings of kvforge::copy.
struct copy_options {
    /// Records per batch written to the destination; with batch_bytes, this bounds the
    /// memory a copy holds, whatever the size of the stores.
    std::size_t batch_records = 4096;
    /// A batch is written once its keys and values reach this many bytes, if sooner.
    std::size_t batch_bytes = std::size_t{4} << 20;
    /// Called after each batch is written; exceptions it throws end the copy and propagate.
    std::function<void(const copy_progress&)> on_progress;
};

/// Writes every record of source into destination, batch by batch (each batch all or
/// nothing; record by record, with put(), into a store whose batches hold only keys that
/// share a partition, such as kvforge::redis_cluster), then syncs destination; returns the
/// records written. Both are stores or
/// any_stores of the same key and value types, of any compositions. Records already in
/// destination stay unless source overwrites them.
///
/// Source is read as for_each reads it: with an ordered index a chunk at a time, so its
/// writers wait at most for one chunk; with a hash index, a thread_safe file_log or
/// mmap_file source from a snapshot taken at the start (its writers wait only for the
/// copy of its index, and the copy holds no lock of it after that), a thread_safe memory
/// source under its read lock for the whole copy. A snapshot is a source too:
/// copy(db.snapshot(), destination) copies the store as of one moment and holds no lock
/// of it while it copies. On failure ec says which side failed; the batches written
/// before stay.
template <class Source, class Destination>
std::uint64_t copy(const Source& source, Destination& destination, const copy_options& opts, std::error_code& ec) {
    using key_type = typename Source::key_type;
    using mapped_type = typename Source::mapped_type;
    static_assert(std::is_same_v<key_type, typename Destination::key_type> &&
                      std::is_same_v<mapped_type, typename Destination::mapped_type>,
                  "kvforge: copy() needs two stores of the same key and value types; convert the records with "
                  "for_each() and put() instead");
    ec.clear();
    if constexpr (std::is_same_v<Source, Destination>) {
        if (&source == &destination) {
            detail::fail(ec, errc::invalid_argument,
                         "copy: the source and the destination are the same store");
            return 0;
        }
    }
    copy_progress progress{0, source.size()};
    batch<key_type, mapped_type> pending;
    std::error_code write_error;
    // A store or any_store says whether it applies a batch of any keys; one that does not
    // (redis_cluster: one hash slot a batch) is written record by record.
    const bool whole_batches = destination.batches_of_any_keys();
    auto write_pending = [&] {
        if (pending.empty() || write_error) return;
        destination.write(pending, write_error);
        if (write_error) return;
        progress.done += pending.size();
        pending.clear();
        if (opts.on_progress) opts.on_progress(progress);
    };
    // for_each cannot be stopped midway: after a failed write the rest of the records are
    // passed over, which costs a read of each and writes nothing.
    source.for_each(
        [&](const key_type& key, const mapped_type& value) {
            if (write_error) return;
            if (whole_batches) {
                pending.put(key, value, write_error);
                if (pending.size() >= opts.batch_records || pending.operations().bytes().size() >= opts.batch_bytes) {
                    write_pending();
                }
            } else {
                destination.put(key, value, write_error);
                if (!write_error && ++progress.done % opts.batch_records == 0 && opts.on_progress) {
                    opts.on_progress(progress);
                }
            }
        },
        ec);
    if (ec) {
        detail::fail(ec, ec, "copy: reading the source failed: " + detail::last_error_detail());
        return progress.done;
    }
    write_pending();
    if (!write_error) destination.sync(write_error);
    if (write_error) {
        detail::fail(ec, write_error,
                     "copy: writing the destination failed after " + std::to_string(progress.done) +
                         " records: " + detail::last_error_detail());
    }
    return progress.done;
}

/// As copy(source, destination, opts, ec) with default options.
template <class Source, class Destination>
std::uint64_t copy(const Source& source, Destination& destination, std::error_code& ec) {
    return copy(source, destination, copy_options{}, ec);
}

/// As copy(source, destination, opts, ec), throwing kvforge::error on failure.
template <class Source, class Destination>
std::uint64_t copy(const Source& source, Destination& destination, const copy_options& opts = {}) {
    std::error_code ec;
    const std::uint64_t written = copy(source, destination, opts, ec);
    detail::throw_if(ec);
    return written;
}

}  // namespace kvforge
