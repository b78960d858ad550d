#pragma once
/// \file table_log.hpp
/// The log a store over sorted tables writes to (data-<generation>.kvlog, the log format),
/// through the durability policy's writer; and what its writers, those retired included,
/// wrote and synced, for stats().

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
    /// record of the old one: what it reads is a prefix of the writes.
    bool start(const store_directory<IO>& directory, file_header stamp, std::uint32_t generation,
               std::error_code& ec) {
        if (writer_ && (writer_->flush(ec), ec)) return false;
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
        if (!close(ec)) return false;
        file_ = std::move(file);
        generation_ = generation;
        writer_.emplace();
        writer_->attach(file_, file_header::size);
        return true;
    }

    /// Appends record and commits it, as the durability policy does.
    bool append(std::string_view record, std::error_code& ec) {
        const append_result appended = writer_->append(record, ec);
        if (ec) return false;
        writer_->commit(appended.sequence, ec);
        return !ec;
    }

    /// Nothing to flush or sync without a writer (a store opened read-only has none).
    void flush(std::error_code& ec) {
        if (writer_) writer_->flush(ec);
    }
    void sync(std::error_code& ec) {
        if (writer_) writer_->sync(ec);
    }

    /// Closes the writer, keeping what it wrote and synced; the file stays open.
    bool close(std::error_code& ec) {
        if (!writer_) return true;
        writer_->close(ec);
        retired_bytes_written_ += writer_->bytes_written();
        retired_syncs_ += writer_->syncs();
        writer_.reset();
        return !ec;
    }

    /// Closes the writer and the file.
    void close_all(std::error_code& ec) {
        close(ec);
        file_.close();
    }

    [[nodiscard]] bool writing() const noexcept { return writer_.has_value(); }
    [[nodiscard]] std::uint32_t generation() const noexcept { return generation_; }
    [[nodiscard]] const data_file<IO>& file() const noexcept { return file_; }
    /// The log's bytes, its buffered ones included (0 without a writer).
    [[nodiscard]] std::uint64_t end() const noexcept { return writer_ ? writer_->end() : 0; }

    /// What every writer wrote and synced; a new log's header is synced with the log file
    /// and the directory.
    [[nodiscard]] std::uint64_t bytes_written() const noexcept {
        return retired_bytes_written_ + headers_written_ + (writer_ ? writer_->bytes_written() : 0);
    }
    [[nodiscard]] std::uint64_t syncs() const noexcept {
        return retired_syncs_ + 2 * started_ + (writer_ ? writer_->syncs() : 0);
    }

private:
    data_file<IO> file_;
    std::uint32_t generation_ = 0;
    std::optional<Writer> writer_;
    std::uint64_t retired_bytes_written_ = 0;  ///< by the writers of logs since closed
    std::uint64_t retired_syncs_ = 0;
    std::uint64_t headers_written_ = 0;
    std::uint64_t started_ = 0;
};

}  // namespace kvforge::detail
