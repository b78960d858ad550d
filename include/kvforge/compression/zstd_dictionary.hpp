#pragma once
/// \file compression/zstd_dictionary.hpp
/// kvforge::zstd_dictionary<Level>: zstd with a dictionary trained from sample values.
///
/// Small values compress poorly one at a time: each starts with nothing to refer back
/// to. A dictionary, trained once from values like them (ZDICT_trainFromBuffer), gives
/// every value that history. Needs libzstd, as <kvforge/compression/zstd.hpp> does.
///
///     std::vector<std::string> samples = ...;   // some hundreds of typical values
///     auto dictionary = kvforge::zstd_dictionary<3>::train(samples);
///     kvforge::compress_value(dictionary, value, out);
///     std::string kept{dictionary.bytes()};     // store these; load() prepares them again

#include <zdict.h>
#include <zstd.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "codec.hpp"
#include "zstd.hpp"

namespace kvforge {
namespace detail {

struct zstd_cdict_deleter {
    void operator()(ZSTD_CDict* dictionary) const noexcept { ZSTD_freeCDict(dictionary); }
};
struct zstd_ddict_deleter {
    void operator()(ZSTD_DDict* dictionary) const noexcept { ZSTD_freeDDict(dictionary); }
};

}  // namespace detail

/// A zstd dictionary, prepared once for compression at Level and for decompression, and a
/// compression codec: values compressed with it are zstd frames that name the dictionary's
/// id, and decompressing one with another dictionary (or none) fails naming both ids. Its
/// calls may run on many threads at once; it is movable, not copyable.
template <int Level = ZSTD_CLEVEL_DEFAULT>
class zstd_dictionary {
    static_assert(detail::valid_zstd_level(Level),
                  "kvforge: zstd_dictionary<Level> takes a level from 1 (fastest) to 22 (smallest); use "
                  "zstd_dictionary<3>, zstd's default, when unsure");

public:
    /// The format's name in the MANIFEST: frames written with a dictionary are zstd frames.
    static constexpr std::string_view name = "zstd";
    /// The compression level.
    static constexpr int level = Level;
    /// The dictionary size train() aims at unless told otherwise: zstd's own advice for small values.
    static constexpr std::size_t default_capacity = 16 * 1024;

    /// Trains a dictionary of at most capacity bytes from samples (a range of values
    /// convertible to std::string_view). zstd wants many samples, about a hundred times the
    /// dictionary's size in all; with too few it fails with errc::invalid_argument.
    template <std::ranges::input_range Samples>
        requires std::convertible_to<std::ranges::range_reference_t<Samples>, std::string_view>
    [[nodiscard]] static std::optional<zstd_dictionary> train(const Samples& samples, std::size_t capacity,
                                                              std::error_code& ec) noexcept {
        ec.clear();
        try {
            std::string joined;
            std::vector<std::size_t> sizes;
            for (std::string_view sample : samples) {
                joined.append(sample);
                sizes.push_back(sample.size());
            }
            std::string dictionary(capacity, '\0');
            const std::size_t size = ZDICT_trainFromBuffer(dictionary.data(), dictionary.size(), joined.data(),
                                                           sizes.data(), static_cast<unsigned>(sizes.size()));
            if (ZDICT_isError(size) != 0) {
                detail::fail(ec, errc::invalid_argument,
                             "training a zstd dictionary of " + std::to_string(capacity) + " bytes from " +
                                 std::to_string(sizes.size()) + " samples of " + std::to_string(joined.size()) +
                                 " bytes: " + ZDICT_getErrorName(size) +
                                 "; give more samples (about 100 times the dictionary's size) or a smaller capacity");
                return std::nullopt;
            }
            dictionary.resize(size);
            return load(std::move(dictionary), ec);
        } catch (const std::bad_alloc&) {
            detail::fail(ec, std::make_error_code(std::errc::not_enough_memory), "training a zstd dictionary");
            return std::nullopt;
        }
    }

    /// Trains a dictionary as above; throws kvforge::error on failure.
    template <std::ranges::input_range Samples>
        requires std::convertible_to<std::ranges::range_reference_t<Samples>, std::string_view>
    [[nodiscard]] static zstd_dictionary train(const Samples& samples, std::size_t capacity = default_capacity) {
        std::error_code ec;
        std::optional<zstd_dictionary> dictionary = train(samples, capacity, ec);
        detail::throw_if(ec);
        return std::move(*dictionary);
    }

    /// Prepares a dictionary from its bytes, as bytes() gave them. Bytes that are not a zstd
    /// dictionary (ZDICT's format, with its magic number and id) fail with errc::invalid_argument.
    [[nodiscard]] static std::optional<zstd_dictionary> load(std::string bytes, std::error_code& ec) noexcept {
        ec.clear();
        const unsigned id = ZSTD_getDictID_fromDict(bytes.data(), bytes.size());
        if (id == 0) {
            detail::fail(ec, errc::invalid_argument,
                         "loading a zstd dictionary: " + std::to_string(bytes.size()) +
                             " bytes are not a trained zstd dictionary (no dictionary id)");
            return std::nullopt;
        }
        zstd_dictionary dictionary;
        dictionary.id_ = id;
        dictionary.compression_.reset(ZSTD_createCDict(bytes.data(), bytes.size(), Level));
        dictionary.decompression_.reset(ZSTD_createDDict(bytes.data(), bytes.size()));
        if (!dictionary.compression_ || !dictionary.decompression_) {
            detail::fail(ec, errc::invalid_argument,
                         "loading zstd dictionary " + std::to_string(id) + " of " + std::to_string(bytes.size()) +
                             " bytes: zstd cannot prepare it (damaged, or out of memory)");
            return std::nullopt;
        }
        dictionary.bytes_ = std::move(bytes);
        return dictionary;
    }

    /// Prepares a dictionary from its bytes; throws kvforge::error on failure.
    [[nodiscard]] static zstd_dictionary load(std::string bytes) {
        std::error_code ec;
        std::optional<zstd_dictionary> dictionary = load(std::move(bytes), ec);
        detail::throw_if(ec);
        return std::move(*dictionary);
    }

    /// The dictionary's id, which each frame compressed with it names (never 0).
    [[nodiscard]] std::uint32_t id() const noexcept { return id_; }
    /// The dictionary's bytes, to keep and load() again.
    [[nodiscard]] std::string_view bytes() const noexcept { return bytes_; }

    /// ZSTD_compressBound: a dictionary never makes a frame larger than that.
    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept { return ZSTD_compressBound(size); }

    /// Writes input as one zstd frame that refers to this dictionary.
    std::size_t compress(std::string_view input, char* output, std::size_t capacity) const {
        return detail::zstd_checked(ZSTD_compress_usingCDict(&detail::zstd_compression_context(), output, capacity,
                                                             input.data(), input.size(), compression_.get()),
                                    "compress with a dictionary");
    }

    /// Decodes one zstd frame of at most size bytes written with this dictionary; throws,
    /// naming both ids, for a frame written with another dictionary or none.
    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        const unsigned frame_id = ZSTD_getDictID_fromFrame(input.data(), input.size());
        if (frame_id != id_) {
            throw std::runtime_error("zstd decompress: the value was compressed with " +
                                     (frame_id == 0 ? std::string("no dictionary (or its frame header is damaged)") : "dictionary " + std::to_string(frame_id)) +
                                     ", not with dictionary " + std::to_string(id_));
        }
        return detail::zstd_checked(ZSTD_decompress_usingDDict(&detail::zstd_decompression_context(), output, size,
                                                               input.data(), input.size(), decompression_.get()),
                                    "decompress with a dictionary");
    }

private:
    zstd_dictionary() = default;

    std::string bytes_;
    std::uint32_t id_ = 0;
    std::unique_ptr<ZSTD_CDict, detail::zstd_cdict_deleter> compression_;
    std::unique_ptr<ZSTD_DDict, detail::zstd_ddict_deleter> decompression_;
};

}  // namespace kvforge
