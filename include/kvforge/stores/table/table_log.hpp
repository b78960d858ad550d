#pragma once
/// \file table_log.hpp
/// The log a store over sorted tables writes to (data-<generation>.kvlog, the log format),
/// through the durability policy's writer, one for the store's life, moved from log to
/// log; and what it wrote and synced, for stats().

#include <fcntl.h>

#include <cstdint>
#include <optional>
#include <string_view>
#include <system_error>

#include "../../detail/data_file.hpp"
#include "../../detail/log_writer.hpp"
#include "../../detail/store_directory.hpp"
#include "../../detail/store_files.hpp"
#include "../log/record_format.hpp"

namespace kvforge::detail {

template <class IO, class Writer>
class table_log {
public:
    /// Starts a new, empty log of this generation, its header the store's (stamp: the
    /// fingerprints), and moves the writer to it. The old log's buffered records reach its
    /// file before the new log exists, so that a reader that finds the new log finds every
    /// record of the old one: what it reads is a prefix of the writes. Called with no
    /// record appended meanwhile (under the store's exclusive lock); the writer is drained
    /// before it moves, so that no write still waits on the old log's sync.
    bool start(const store_directory<IO>& directory, file_header stamp, std::uint32_t generation,
               std::error_code& ec) {
        if (writing_ && (writer_->flush(ec), ec)) return false;
        data_file<IO> file;
        if (!directory.open_file(file, store_file_name::data(generation), O_RDWR | O_CREAT | O_TRUNC, ec)) {
            return false;
        }
        stamp.generation = generation;
        char bytes[file_header::size];
        stamp.encode(bytes);
        if (!file.write(0, {bytes, sizeof bytes}, ec) || !file.sync(ec) || !directory.sync(ec)) return false;
        headers_written_ += sizeof bytes;
        ++started_;
        if (writing_ && (writer_->drain(ec), ec)) return false;
        file_ = std::move(file);
        generation_ = generation;
        if (!writer_) writer_.emplace();
        writer_->attach(file_, file_header::size);
        writing_ = true;
        return true;
    }

    /// Appends record as the durability policy does; its sequence number, for commit(),
    /// or 0 when ec is set.
    std::uint64_t append(std::string_view record, std::error_code& ec) {
        const append_result appended = writer_->append(record, ec);
        return ec ? 0 : appended.sequence;
    }

    /// Returns once the record append() numbered sequence is as durable as the policy
    /// promises. A store calls it after its lock is released, so that while a sync_each
    /// write waits for its sync, others append and share the next one. The writer lives as
    /// long as this object, so that a write still waiting here when a new log starts, or
    /// when the store closes, waits on a writer that is there (and returns: both sync first).
    bool commit(std::uint64_t sequence, std::error_code& ec) {
        writer_->commit(sequence, ec);
        return !ec;
    }

    /// Nothing to flush or sync without a writer (a store opened read-only has none). After
    /// a write or sync failed, both report it (failed()): what had not reached the disk may
    /// be lost, and a sync that succeeded now would claim otherwise.
    void flush(std::error_code& ec) {
        if (writing_ && !writer_->failed(ec)) writer_->flush(ec);
    }
    void sync(std::error_code& ec) {
        if (writing_ && !writer_->failed(ec)) writer_->sync(ec);
    }

    /// Closes the writer and the file; after a failed write or sync, reports it instead of
    /// syncing (the writer's own destructor stops what it runs).
    void close_all(std::error_code& ec) {
        if (writing_ && !writer_->failed(ec)) writer_->close(ec);
        writing_ = false;
        file_.close();
    }

    [[nodiscard]] bool writing() const noexcept { return writing_; }
    /// Reports, with errc::store_failed, a write or sync of the log that failed before: the
    /// store takes no more writes until it is opened again (sticky_failure).
    bool failed(std::error_code& ec) const { return writer_ && writer_->failed(ec); }
    [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }
    [[nodiscard]] const data_file<IO>& file() const noexcept { return file_; }
    /// The log's bytes, its buffered ones included (0 without a writer).
    [[nodiscard]] std::uint64_t end() const noexcept { return writing_ ? writer_->end() : 0; }

    /// What the writer wrote and synced over every log; a new log's header is synced with
    /// the log file and the directory.
    [[nodiscard]] std::uint64_t bytes_written() const noexcept {
        return headers_written_ + (writer_ ? writer_->bytes_written() : 0);
    }
    [[nodiscard]] std::uint64_t syncs() const noexcept { return 2 * started_ + (writer_ ? writer_->syncs() : 0); }

private:
    data_file<IO> file_;
    std::uint32_t generation_ = 0;
    std::optional<Writer> writer_;  ///< made at the first start, then moved from log to log
    bool writing_ = false;          ///< a log is started and not closed (never in a read-only store)
    std::uint64_t headers_written_ = 0;
    std::uint64_t started_ = 0;
};

}  // namespace kvforge::detail
