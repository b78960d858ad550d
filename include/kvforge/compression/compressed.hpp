#pragma once
/// \file compression/compressed.hpp
/// kvforge::compressed<Codec>: a store policy that keeps values compressed by a codec.
///
/// A compressed store puts one flag byte in front of each value it hands the layers
/// beneath: value_flag::raw, then the value as it is, or value_flag::compressed, then
/// what compress_value wrote (the value's size as a varint, then the codec's bytes). A
/// value shorter than options::compress_min_bytes, or one the codec does not make
/// shorter, is kept raw, so no value costs more than the one byte.
///
/// The layer sits above expiry: an expiring store's deadline header stays in front of
/// the flag, uncompressed, so deadlines are read (at open, by purge_expired(), by every
/// read) without decompressing anything. A read cache beneath holds the values as they
/// are stored, compressed, so its budget holds more of them and each hit decompresses.
///
/// This header needs no library: the codecs that do (<kvforge/compression/zstd.hpp>,
/// <kvforge/compression/lz4.hpp>) are included by the user, who links their library.

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

#include "../batch.hpp"
#include "../concepts.hpp"
#include "../detail/assign_bytes.hpp"
#include "../detail/refreshed_keys.hpp"
#include "../error.hpp"
#include "../expiry/expiring.hpp"
#include "../limits.hpp"
#include "../manifest.hpp"
#include "../options.hpp"
#include "../stats.hpp"
#include "codec.hpp"

namespace kvforge {

namespace detail {

/// The byte a compressed store keeps in front of each value.
struct value_flag {
    static constexpr char raw = 0;         ///< the value follows as it is
    static constexpr char compressed = 1;  ///< compress_value's output follows
    static constexpr std::size_t size = 1;
};

/// What a compressed store whose codec keeps nothing in its directory keeps of the I/O policy.
struct no_codec_io {};

/// The store's backend of a compressed store: Inner's (the expiry layer's, the cache's
/// or the store policy's) with each value behind a value_flag, compressed when that
/// makes it shorter. It has no state of its own but the codec and the minimum size, and
/// no lock: every call encodes or decodes in its own buffers and forwards to Inner. A
/// codec kept in the store (codec_kept_in_store) brings its own state and locks.
template <class Policies, class Inner>
class compressed_backend {
    using codec_type = typename Policies::compression::codec;
    static constexpr bool codec_kept = codec_kept_in_store<codec_type>;
    static_assert(!codec_kept || Policies::store::persistent,
                  "kvforge: this codec keeps its dictionaries in the store's directory: use it with file_log or "
                  "mmap_file, or use kvforge::zstd<> for a memory store");

public:
    static constexpr bool sequenced = Inner::sequenced;
    /// The longest value this layer takes: what Inner takes (kvforge::max_value_size, less
    /// the expiry header when expiring) less the flag byte.
    static constexpr std::size_t max_value_size =
        kvforge::max_value_size - (Policies::expiry_given ? deadline_header::with_deadline_size : 0) - value_flag::size;

    compressed_backend() = default;
    /// The layer over inner with this codec: how a snapshot reads, over Inner's snapshot.
    compressed_backend(Inner inner, const codec_type& codec) : inner_(std::move(inner)), codec_(codec) {}

    void configure(const kvforge::options& opts, std::error_code& ec)
        requires requires(Inner& inner) { inner.configure(opts, ec); }
    {
        min_bytes_ = opts.compress_min_bytes;
        inner_.configure(opts, ec);
    }

    template <class Io>
    void open(std::string_view path, const kvforge::options& opts, Io io, const composition& wanted,
              std::error_code& ec)
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        min_bytes_ = opts.compress_min_bytes;
        if constexpr (codec_kept) io_ = io;
        inner_.open(path, opts, std::move(io), wanted, ec);
        if constexpr (codec_kept) {
            if (ec) return;
            codec_.open(io_, path, ec);
            if (ec) {
                std::error_code ignored;
                inner_.close(ignored);
            }
        }
    }

    void close(std::error_code& ec)
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        inner_.close(ec);
    }

    [[nodiscard]] bool is_open() const noexcept
        requires requires(const Inner& inner) { inner.is_open(); }
    {
        return inner_.is_open();
    }

    void wait_durable(std::uint64_t sequence, std::error_code& ec)
        requires requires(Inner& inner) { inner.wait_durable(sequence, ec); }
    {
        inner_.wait_durable(sequence, ec);
    }

    [[nodiscard]] std::uint64_t durable_sequence() const
        requires requires(const Inner& inner) { inner.durable_sequence(); }
    {
        return inner_.durable_sequence();
    }

    std::uint64_t put(std::string_view key, std::string_view value, std::error_code& ec) {
        const auto& with = compressor();
        std::string stored;
        if (!encode(with, value, stored, ec)) return 0;
        return inner_.put(key, stored, ec);
    }

    /// As put, with the deadline the expiry layer beneath keeps in front of the flag.
    std::uint64_t put_until(std::string_view key, std::string_view value, std::optional<std::int64_t> deadline,
                            std::error_code& ec)
        requires requires(Inner& inner) { inner.put_until(key, value, deadline, ec); }
    {
        const auto& with = compressor();
        std::string stored;
        if (!encode(with, value, stored, ec)) return 0;
        return inner_.put_until(key, stored, deadline, ec);
    }

    bool erase(std::string_view key, std::error_code& ec) { return inner_.erase(key, ec); }

    /// Encodes every value of the batch, then hands Inner the whole batch: a value that
    /// does not fit or fails to compress leaves the store unchanged.
    std::uint64_t write(const batch_buffer& ops, std::error_code& ec) {
        const auto& with = compressor();
        batch_buffer encoded;
        std::string stored;
        ops.for_each_with_deadline([&](batch_op op, std::string_view key, std::string_view value,
                                       std::optional<std::int64_t> deadline) {
            if (ec) return;
            if (op == batch_op::put) {
                if (encode(with, value, stored, ec)) encoded.add_put(key, stored);
            } else if (op == batch_op::put_until) {
                if (encode(with, value, stored, ec)) encoded.add_put_until(key, stored, *deadline);
            } else {
                encoded.add_erase(key);
            }
        });
        if (ec) return 0;
        return inner_.write(encoded, ec);
    }

    template <class OnValue>
    bool read(std::string_view key, OnValue&& on_value, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        const bool found = inner_.read(
            key,
            [&](std::string_view stored) {
                if (const auto value = decode(stored, scratch, failed)) on_value(*value);
            },
            ec);
        return settle(found, failed, ec);
    }

    /// Decompresses straight into out, or copies a raw value into it.
    bool read_value(std::string_view key, std::string& out, std::error_code& ec) const {
        std::error_code failed;
        const bool found = inner_.read(
            key, [&](std::string_view stored) { decode_into(stored, out, failed); }, ec);
        return settle(found, failed, ec);
    }

    template <class OnValue>
    void read_many(std::span<const std::string_view> keys, OnValue&& on_value, std::error_code& ec) const
        requires requires(const Inner& inner) { inner.read_many(keys, indexed_stored_visitor{}, ec); }
    {
        std::error_code failed;
        std::string scratch;
        inner_.read_many(
            keys,
            [&](std::size_t i, std::string_view stored) {
                if (failed) return;
                if (const auto value = decode(stored, scratch, failed)) on_value(i, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    bool contains(std::string_view key, std::error_code& ec) const { return inner_.contains(key, ec); }

    std::optional<std::int64_t> deadline(std::string_view key, std::error_code& ec) const
        requires requires(const Inner& inner) { inner.deadline(key, ec); }
    {
        return inner_.deadline(key, ec);
    }

    std::size_t purge_expired(std::error_code& ec)
        requires requires(Inner& inner) { inner.purge_expired(ec); }
    {
        return inner_.purge_expired(ec);
    }

    template <class Visitor>
    void visit_from(std::string_view from, bool inclusive, Visitor&& visitor, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.visit_from(
            from, inclusive,
            [&](std::string_view key, std::string_view stored) {
                const auto value = decode(stored, scratch, failed);
                return value && visitor(key, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    template <class Visitor>
    void visit_down_from(std::optional<std::string_view> from, bool inclusive, Visitor&& visitor,
                         std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.visit_down_from(
            from, inclusive,
            [&](std::string_view key, std::string_view stored) {
                const auto value = decode(stored, scratch, failed);
                return value && visitor(key, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    /// Calls visitor(key, value) for every record until a value fails to decompress.
    template <class Visitor>
    void for_each(Visitor&& visitor, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.for_each(
            [&](std::string_view key, std::string_view stored) {
                if (failed) return;
                if (const auto value = decode(stored, scratch, failed)) visitor(key, *value);
            },
            ec);
        settle(true, failed, ec);
    }

    [[nodiscard]] std::size_t size() const { return inner_.size(); }
    [[nodiscard]] std::uint64_t write_version() const noexcept { return inner_.write_version(); }
    void clear(std::error_code& ec) { inner_.clear(ec); }
    /// Inner's stats, with live_bytes counting each value as stored (a compressed one at
    /// its compressed size, so it shows what compression saves) less its flag byte: a value
    /// kept raw counts as it is, as in a store without compression.
    [[nodiscard]] kvforge::stats stats() const {
        kvforge::stats s = inner_.stats();
        s.live_bytes -= std::min<std::uint64_t>(s.live_bytes, s.live_keys * value_flag::size);
        return s;
    }
    void flush(std::error_code& ec) { inner_.flush(ec); }
    void sync(std::error_code& ec) { inner_.sync(ec); }
    /// Compacts Inner; a codec kept in the store then tends its state over the live values
    /// (zstd_trained<> retires and trains dictionaries).
    void compact(std::error_code& ec) {
        inner_.compact(ec);
        if constexpr (codec_kept) {
            if (ec) return;
            codec_.maintain(
                io_, inner_.size(), [&](auto&& visitor, std::error_code& walk_ec) { walk_stored(visitor, walk_ec); },
                [&](std::error_code& sync_ec) { inner_.sync(sync_ec); }, ec);
        }
    }
    [[nodiscard]] verify_report verify(std::error_code& ec) const { return inner_.verify(ec); }
    /// Inner's refresh(): the values come compressed, as they were written. A codec kept
    /// in the store (zstd_trained<>) first loads the dictionaries the writer trained since.
    std::uint64_t refresh(std::error_code& ec, detail::refreshed_keys* keys = nullptr)
        requires requires(Inner& inner) { inner.refresh(ec, keys); }
    {
        if constexpr (codec_kept) {
            codec_.catch_up(io_, ec);
            if (ec) return 0;
        }
        return inner_.refresh(ec, keys);
    }

    void backup(std::string_view dest, const backup_options& how, std::error_code& ec)
        requires requires(Inner& inner) { inner.backup(dest, how, ec); }
    {
        if constexpr (codec_kept) {
            const auto files_held = codec_.hold_files();
            inner_.backup(dest, how, ec);
        } else {
            inner_.backup(dest, how, ec);
        }
    }

    /// A snapshot of the store: this layer over Inner's snapshot, decompressing as the store does.
    [[nodiscard]] auto snapshot(std::error_code& ec)
        requires requires(Inner& inner) { inner.snapshot(ec); }
    {
        return compressed_backend<Policies, decltype(inner_.snapshot(ec))>(inner_.snapshot(ec), codec_);
    }

private:
    /// What a write encodes its values with: the codec, or what a codec kept in the store
    /// hands out for the write (held until it returns).
    [[nodiscard]] decltype(auto) compressor() const {
        if constexpr (codec_kept) {
            return codec_.writer();
        } else {
            return (codec_);
        }
    }

    /// Calls visitor(compressed, value) for every live value: compressed is what
    /// compress_value wrote (empty for a value kept raw), value() decompresses it.
    template <class Visitor>
    void walk_stored(Visitor& visitor, std::error_code& ec) const {
        std::error_code failed;
        std::string scratch;
        inner_.for_each(
            [&](std::string_view, std::string_view stored) {
                if (failed) return;
                const bool compressed = !stored.empty() && stored[0] == value_flag::compressed;
                visitor(compressed ? stored.substr(value_flag::size) : std::string_view{}, [&]() -> std::string_view {
                    const auto value = decode(stored, scratch, failed);
                    return value ? *value : std::string_view{};
                });
            },
            ec);
        settle(true, failed, ec);
    }

    /// Writes value's stored bytes into out: the flag, then the value compressed with
    /// `with` when it is long enough and that makes it shorter, else as it is.
    template <class With>
    bool encode(const With& with, std::string_view value, std::string& out, std::error_code& ec) const {
        if (value.size() > max_value_size) {
            fail(ec, errc::value_too_large,
                 "value of " + std::to_string(value.size()) + " bytes is longer than a compressed store takes, " +
                     std::to_string(max_value_size) +
                     " bytes (kvforge::max_value_size less the 1-byte compression flag" +
                     (Policies::expiry_given ? " and the 9-byte expiry header" : "") + "); nothing was written");
            return false;
        }
        if (value.size() >= min_bytes_) {
            compress_value(with, value, out, ec);
            if (ec) return false;
            if (out.size() < value.size()) {
                out.insert(out.begin(), value_flag::compressed);
                return true;
            }
        }
        out.clear();
        out.reserve(value_flag::size + value.size());
        out.push_back(value_flag::raw);
        out.append(value);
        return true;
    }

    /// The value behind stored's flag: a view into stored when raw, into scratch when it
    /// was decompressed there; nullopt, with failed set, when it cannot be read.
    std::optional<std::string_view> decode(std::string_view stored, std::string& scratch,
                                           std::error_code& failed) const {
        if (!stored.empty() && stored[0] == value_flag::raw) return stored.substr(value_flag::size);
        if (!stored.empty() && stored[0] == value_flag::compressed) {
            decompress_value(codec_, stored.substr(value_flag::size), scratch, failed);
            if (failed) {
                if constexpr (codec_kept) codec_.explain_failure(stored.substr(value_flag::size), failed);
                return std::nullopt;
            }
            return std::string_view(scratch);
        }
        fail(failed, errc::compression_failed,
             "a stored value of " + std::to_string(stored.size()) +
                 " bytes does not start with a compression flag (0 or 1); the store was not written compressed "
                 "with " +
                 std::string(codec_type::name) + ", or the value was damaged");
        return std::nullopt;
    }

    /// Writes the value behind stored's flag into out; false, with failed set, when it cannot be read.
    bool decode_into(std::string_view stored, std::string& out, std::error_code& failed) const {
        if (!stored.empty() && stored[0] == value_flag::raw) {
            assign_bytes(out, stored.substr(value_flag::size));
            return true;
        }
        return decode(stored, out, failed).has_value();
    }

    /// Passes on a decoding failure: it comes after Inner's own error, and leaves nothing found.
    static bool settle(bool found, const std::error_code& failed, std::error_code& ec) {
        if (ec) return false;
        if (!failed) return found;
        ec = failed;
        return false;
    }

    Inner inner_;
    [[no_unique_address]] codec_type codec_;
    [[no_unique_address]] std::conditional_t<codec_kept, typename Policies::io, no_codec_io> io_;
    std::uint64_t min_bytes_ = kvforge::options{}.compress_min_bytes;
};

/// Whether a store's backend compresses whole blocks itself (declares `static constexpr
/// bool compresses_blocks = true`, as disk_index's sorted tables do): it then takes the
/// codec as its own, and compressed<> adds no layer of compressed values over it.
template <class Backend>
concept compresses_blocks = requires {
    { Backend::compresses_blocks } -> std::convertible_to<bool>;
} && Backend::compresses_blocks;

/// The compression policy of a store that has none: its backend as it is.
struct no_compression {
    using policy_kind = kvforge::policy_kind::compression;
    static constexpr std::string_view name = "none";
    template <class Policies, class Backend>
    using backend = Backend;
};

}  // namespace detail

/// Compression policy: values are kept compressed by Codec, any type satisfying
/// kvforge::compression_codec (see compression/codec.hpp for the concept and a codec of
/// one's own): kvforge::zstd<Level> (<kvforge/compression/zstd.hpp>, -lzstd) or
/// kvforge::lz4 (<kvforge/compression/lz4.hpp>, -llz4).
///
///     using docs = kvforge::store<std::string, std::string, kvforge::file_log,
///                                 kvforge::compressed<kvforge::zstd<3>>>;
///
/// Values shorter than options::compress_min_bytes, or that the codec does not shrink,
/// are kept as they are: a value costs at most one byte more. A kvforge::disk_index store
/// compresses its tables' blocks whole instead, which shrinks small values far more. get(), visit(), scans,
/// for_each() and get_many() hand out the decompressed bytes; get_view(), which hands out
/// the stored bytes in place, does not compile (but on a disk_index store, whose block
/// cache holds its blocks decompressed). A file store's MANIFEST records Codec::name,
/// and a store written with one codec refuses to open with another, or with none
/// (errc::codec_mismatch). A codec that throws or gives back a value of another size on
/// decompress is errc::compression_failed: a wrong value is never handed out.
template <class Codec>
struct compressed {
    static_assert(compression_codec<Codec>,
                  "kvforge: compressed<Codec> needs a codec satisfying kvforge::compression_codec, such as "
                  "kvforge::zstd<3> from <kvforge/compression/zstd.hpp> or kvforge::lz4 from "
                  "<kvforge/compression/lz4.hpp>");
    using policy_kind = kvforge::policy_kind::compression;
    using codec = Codec;
    /// The codec's name: the word a store spec names it by, and what the MANIFEST records.
    static constexpr std::string_view name = Codec::name;
    /// The layer that compresses each value (compressed_backend), unless the store's
    /// backend compresses whole blocks itself (detail::compresses_blocks).
    template <class Policies, class Backend>
    using backend = std::conditional_t<detail::compresses_blocks<Backend>, Backend,
                                       detail::compressed_backend<Policies, Backend>>;
};

}  // namespace kvforge
