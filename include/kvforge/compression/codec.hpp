#pragma once
/// \file compression/codec.hpp
/// What a compression codec provides (kvforge::compression_codec), and the calls that
/// compress a value with one and check it on the way back.
///
/// This header needs no library; the codecs that do live in headers of their own,
/// outside the umbrella header: <kvforge/compression/zstd.hpp> (-lzstd) and
/// <kvforge/compression/lz4.hpp> (-llz4). A codec of your own is a class like this:
///
///     struct my_codec {
///         static constexpr std::string_view name = "my-codec";  // recorded in the store's files
///         std::size_t max_compressed_size(std::size_t size) const noexcept;
///         std::size_t compress(std::string_view value, char* out, std::size_t capacity) const;
///         std::size_t decompress(std::string_view compressed, char* out, std::size_t size) const;
///     };
///
/// A compressed value is the value's size as an LEB128 varint, then the codec's bytes.
/// The size is kvforge's, not the codec's, so a codec that loses or invents bytes is
/// caught: decompress_value gives back a value only when the codec wrote exactly the
/// recorded number of bytes.

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <system_error>

#include "../detail/byte_order.hpp"
#include "../error.hpp"
#include "../limits.hpp"

namespace kvforge {

/// A compression codec. Its calls are const and may run on many threads at once on one
/// object (a store calls them under a shared lock); a codec reports a failure by throwing
/// any exception, which compress_value and decompress_value turn into
/// errc::compression_failed with the exception's what() in the message.
template <class C>
concept compression_codec = requires(const C& codec, std::string_view input, char* output, std::size_t size) {
    /// The name of the format, recorded in the store's MANIFEST: a store refuses to open with
    /// another codec. It names the format, not the settings: zstd<1> and zstd<19> are both "zstd".
    { C::name } -> std::convertible_to<std::string_view>;
    /// The most bytes compress may write for an input of size bytes.
    { codec.max_compressed_size(size) } noexcept -> std::same_as<std::size_t>;
    /// Compresses input into [output, output + size), size being at least
    /// max_compressed_size(input.size()); returns the number of bytes written.
    { codec.compress(input, output, size) } -> std::same_as<std::size_t>;
    /// Decompresses input, which compress wrote, into [output, output + size), size being
    /// the original size; returns the number of bytes written, which must be size.
    { codec.decompress(input, output, size) } -> std::same_as<std::size_t>;
};

namespace detail {

/// Stops the compilation, naming what is missing, when Codec is not a compression codec.
template <class Codec>
constexpr void require_compression_codec() noexcept {
    static_assert(compression_codec<Codec>,
                  "kvforge: the codec does not satisfy kvforge::compression_codec: give it a static name, "
                  "max_compressed_size(size) noexcept, compress(input, output, capacity) and "
                  "decompress(input, output, size), as kvforge/compression/codec.hpp shows");
}

/// The message of the exception a codec threw, or a fallback for one that is not a std::exception.
inline std::string what_codec_threw(std::exception_ptr thrown) {
    try {
        std::rethrow_exception(thrown);
    } catch (const std::exception& e) {
        return e.what();
    } catch (...) {
        return "an exception of an unknown type";
    }
}

}  // namespace detail

/// Compresses value with codec into out (replacing what it held): the value's size as a
/// varint, then the codec's bytes. out keeps its capacity between calls, so a caller that
/// reuses it allocates only when it grows. On failure out is cleared.
template <class Codec>
void compress_value(const Codec& codec, std::string_view value, std::string& out, std::error_code& ec) noexcept {
    detail::require_compression_codec<Codec>();
    ec.clear();
    try {
        const std::size_t bound = codec.max_compressed_size(value.size());
        const std::size_t prefix = detail::varint_size(value.size());
        out.resize(prefix + bound);
        detail::put_varint(out.data(), value.size());
        const std::size_t written = codec.compress(value, out.data() + prefix, bound);
        if (written > bound) {
            out.clear();
            detail::fail(ec, errc::compression_failed,
                         std::string("compressing a value with ") + std::string(Codec::name) + ": the codec says it wrote " +
                             std::to_string(written) + " bytes, more than its bound of " + std::to_string(bound) +
                             "; fix the codec's max_compressed_size");
            return;
        }
        out.resize(prefix + written);
    } catch (...) {
        out.clear();
        std::string why = detail::what_codec_threw(std::current_exception());
        detail::fail(ec, errc::compression_failed,
                     "compressing a value of " + std::to_string(value.size()) + " bytes with " +
                         std::string(Codec::name) + ": " + why);
    }
}

/// Compresses value with codec into out; throws kvforge::error on failure.
template <class Codec>
void compress_value(const Codec& codec, std::string_view value, std::string& out) {
    std::error_code ec;
    compress_value(codec, value, out, ec);
    detail::throw_if(ec);
}

/// The original size recorded at the start of a compressed value, or an error when the
/// record is too short or claims more than kvforge::max_value_size.
[[nodiscard]] inline std::size_t compressed_value_size(std::string_view compressed, std::error_code& ec) noexcept {
    ec.clear();
    std::uint64_t size = 0;
    const char* payload = detail::get_varint(compressed.data(), compressed.data() + compressed.size(), size);
    if (payload == nullptr || size > max_value_size) {
        detail::fail(ec, errc::compression_failed,
                     "a compressed value of " + std::to_string(compressed.size()) +
                         " bytes does not start with a valid size (at most kvforge::max_value_size)");
        return 0;
    }
    return static_cast<std::size_t>(size);
}

/// The original size recorded at the start of a compressed value; throws kvforge::error
/// when there is none.
[[nodiscard]] inline std::size_t compressed_value_size(std::string_view compressed) {
    std::error_code ec;
    const std::size_t size = compressed_value_size(compressed, ec);
    detail::throw_if(ec);
    return size;
}

/// Decompresses what compress_value wrote into out (replacing what it held). Fails with
/// errc::compression_failed, out cleared, when the codec throws or writes other than the
/// recorded number of bytes: a wrong value is never handed out.
template <class Codec>
void decompress_value(const Codec& codec, std::string_view compressed, std::string& out, std::error_code& ec) noexcept {
    detail::require_compression_codec<Codec>();
    const std::size_t size = compressed_value_size(compressed, ec);
    if (ec) {
        out.clear();
        return;
    }
    const std::size_t prefix = detail::varint_size(size);
    try {
        out.resize(size);
        const std::size_t written = codec.decompress(compressed.substr(prefix), out.data(), size);
        if (written != size) {
            out.clear();
            detail::fail(ec, errc::compression_failed,
                         "decompressing a value with " + std::string(Codec::name) + ": the codec gave " +
                             std::to_string(written) + " bytes where " + std::to_string(size) +
                             " were recorded; the value is not returned");
        }
    } catch (...) {
        out.clear();
        std::string why = detail::what_codec_threw(std::current_exception());
        detail::fail(ec, errc::compression_failed,
                     "decompressing a value of " + std::to_string(size) + " bytes with " + std::string(Codec::name) +
                         ": " + why);
    }
}

/// A codec that keeps state in the store's directory, as zstd_trained<> keeps its
/// dictionaries: a compressed store loads it at open (open), tends it at compact()
/// (maintain), encodes each write with what writer() gives, held until the write returns,
/// keeps its files in place while a backup copies them (hold_files), and loads what the
/// writer added at a read-only store's refresh() (catch_up).
template <class C>
concept codec_kept_in_store = requires(const C& codec) {
    codec.writer();
    codec.hold_files();
};

/// Decompresses what compress_value wrote into out; throws kvforge::error on failure.
template <class Codec>
void decompress_value(const Codec& codec, std::string_view compressed, std::string& out) {
    std::error_code ec;
    decompress_value(codec, compressed, out, ec);
    detail::throw_if(ec);
}

}  // namespace kvforge
