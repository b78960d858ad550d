#pragma once
/// \file error.hpp
/// kvforge's error codes, their category, and the exception the throwing calls raise.
///
/// Every fallible call has two forms, as in std::filesystem: one takes a
/// std::error_code& and never throws; the other throws kvforge::error. Both carry
/// the same code; the message of the exception (and kvforge::last_error_message()
/// after an error_code call) says which file, offset or limit was involved.

#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

namespace kvforge {

/// kvforge's own refusals. Errors of the system calls a store makes carry their errno in
/// std::system_category() instead.
enum class errc {
    key_too_large = 1,    ///< the encoded key is longer than kvforge::max_key_size
    value_too_large,      ///< the encoded value is longer than kvforge::max_value_size, or a bounded store's budget
    value_decode_failed,  ///< stored bytes could not be decoded by kvforge::codec<Value>
    key_decode_failed,    ///< stored key bytes could not be decoded by kvforge::codec<Key>
    codec_failed,         ///< a codec threw an exception while encoding
    not_a_store,          ///< a file in the store's directory is not a kvforge file (wrong magic)
    unsupported_version,  ///< the file was written by a newer format version; it is left unchanged
    codec_mismatch,       ///< the store was written with other key or value codecs, expiry or compression, or over sorted tables (disk_index) or not
    corrupt_header,       ///< a file header is truncated or fails its checksum
    corrupt_record,       ///< a record before the log's tail is damaged (open with salvage to keep the rest)
    store_locked,         ///< another process or store object has the store open
    store_failed,         ///< an earlier write or sync failed; reopen the store to recover from disk
    store_closed,         ///< the store is not open
    store_not_found,      ///< no store at the path, and the open may not create one (create_if_missing, read_only)
    store_exists,         ///< a store is at the path, and options::error_if_exists is set
    read_only,            ///< a write to a store opened with options::read_only
    invalid_argument,     ///< an argument kvforge cannot use: an empty path, an option out of range, a bad spec
    not_supported,        ///< a call the store's composition cannot serve (any_store: a scan on a hash index)
    compression_failed,   ///< a compression codec failed, or gave back other than the recorded number of bytes
    remote_refused,       ///< a remote store's server refused a command (cluster down, out of memory, ...); the message names the node and gives its reply
};

/// The category of kvforge::errc, named "kvforge".
[[nodiscard]] inline const std::error_category& error_category() noexcept {
    class category final : public std::error_category {
    public:
        [[nodiscard]] const char* name() const noexcept override { return "kvforge"; }
        [[nodiscard]] std::string message(int code) const override { return text(static_cast<errc>(code)); }

    private:
        // One string built from a literal, rather than one per case: the function is
        // compiled into every file that reports an error.
        [[nodiscard]] static const char* text(errc code) noexcept {
            switch (code) {
                case errc::key_too_large: return "key too large";
                case errc::value_too_large: return "value too large";
                case errc::value_decode_failed: return "stored value cannot be decoded as the value type";
                case errc::key_decode_failed: return "stored key cannot be decoded as the key type";
                case errc::codec_failed: return "a codec threw an exception";
                case errc::not_a_store: return "not a kvforge store file";
                case errc::unsupported_version: return "file written by a newer kvforge format version";
                case errc::codec_mismatch: return "store written with other key or value codecs, expiry, compression or tables";
                case errc::corrupt_header: return "damaged file header";
                case errc::corrupt_record: return "damaged record or table block";
                case errc::store_locked: return "store is open elsewhere";
                case errc::store_failed: return "store refuses writes after a failed write or sync";
                case errc::store_closed: return "store is not open";
                case errc::store_not_found: return "no store at this path";
                case errc::store_exists: return "a store already exists at this path";
                case errc::read_only: return "store is open read-only";
                case errc::invalid_argument: return "invalid argument";
                case errc::not_supported: return "not supported by the store's composition";
                case errc::compression_failed: return "a compression codec failed; no value is returned";
                case errc::remote_refused: return "a remote store's server refused the command";
            }
            return "unknown kvforge error";
        }
    };
    static const category instance;
    return instance;
}

/// Makes kvforge::errc usable wherever a std::error_code is expected.
[[nodiscard]] inline std::error_code make_error_code(errc e) noexcept {
    return {static_cast<int>(e), error_category()};
}

/// The exception thrown by the throwing form of every fallible call.
class error : public std::system_error {
public:
    error(std::error_code code, const std::string& detail) : std::system_error(code, detail) {}
};

namespace detail {

/// The last error reported on this thread; one per thread so that concurrent callers
/// never see each other's messages.
struct last_error {
    std::string detail;   ///< what failed and where, without the code's own message
    std::string message;  ///< detail and the code's message, as kvforge::error::what() says them
};

[[nodiscard]] inline last_error& this_thread_last_error() noexcept {
    thread_local last_error error;
    return error;
}

/// The detail of the last error reported on this thread.
[[nodiscard]] inline const std::string& last_error_detail() noexcept { return this_thread_last_error().detail; }

/// Reports an error through ec and records its detail for the message.
inline void fail(std::error_code& ec, std::error_code code, std::string detail) noexcept {
    ec = code;
    last_error& last = this_thread_last_error();
    try {
        last.detail = std::move(detail);
        last.message = last.detail + ": " + code.message();
    } catch (...) {
        // Out of memory while describing an error: the code alone still tells what happened.
        last.detail.clear();
        last.message.clear();
    }
}

/// Reports a failed system call: the errno value as a std::system_category code, and
/// the call and file in the detail, e.g. "open data/users/LOCK", which the message
/// completes with the errno's text: "open data/users/LOCK: Permission denied".
inline void fail_errno(std::error_code& ec, int error_number, std::string what) noexcept {
    fail(ec, std::error_code(error_number, std::system_category()), std::move(what));
}

/// Throws kvforge::error for ec when it holds an error.
inline void throw_if(const std::error_code& ec) {
    if (ec) throw error(ec, last_error_detail());
}

}  // namespace detail

/// What the last failed call on this thread said about its error: what failed, the
/// file, offset or limit involved, and the error code's message, as the what() of the
/// kvforge::error the throwing form throws.
[[nodiscard]] inline const std::string& last_error_message() noexcept { return detail::this_thread_last_error().message; }

}  // namespace kvforge

template <>
struct std::is_error_code_enum<kvforge::errc> : std::true_type {};
