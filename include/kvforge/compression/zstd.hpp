#pragma once
/// \file compression/zstd.hpp
/// kvforge::zstd<Level>: the Zstandard codec. Needs libzstd: link -lzstd, or take in
/// CMake's kvforge::zstd, pkg-config's kvforge-zstd or meson's kvforge_zstd_dep. The
/// umbrella header <kvforge/kvforge.hpp> does not include it.

#include <zstd.h>

#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "codec.hpp"

namespace kvforge {
namespace detail {

struct zstd_compression_context_deleter {
    void operator()(ZSTD_CCtx* context) const noexcept { ZSTD_freeCCtx(context); }
};
struct zstd_decompression_context_deleter {
    void operator()(ZSTD_DCtx* context) const noexcept { ZSTD_freeDCtx(context); }
};

/// This thread's compression context, made at its first use and kept until the thread ends:
/// a context is costly to make (its tables take hundreds of KiB) and may serve one call at a
/// time, so each thread keeps one and every level and dictionary shares it.
[[nodiscard]] inline ZSTD_CCtx& zstd_compression_context() {
    thread_local std::unique_ptr<ZSTD_CCtx, zstd_compression_context_deleter> context;
    if (!context) context.reset(ZSTD_createCCtx());
    if (!context) throw std::bad_alloc();
    return *context;
}

/// This thread's decompression context, kept for the same reasons.
[[nodiscard]] inline ZSTD_DCtx& zstd_decompression_context() {
    thread_local std::unique_ptr<ZSTD_DCtx, zstd_decompression_context_deleter> context;
    if (!context) context.reset(ZSTD_createDCtx());
    if (!context) throw std::bad_alloc();
    return *context;
}

/// result when zstd says it is a size; throws with zstd's own words when it is an error code.
inline std::size_t zstd_checked(std::size_t result, const char* what) {
    if (ZSTD_isError(result) != 0) throw std::runtime_error(std::string("zstd ") + what + ": " + ZSTD_getErrorName(result));
    return result;
}

/// Whether level is one zstd<Level> takes: 1 (fastest) to 22 (smallest), as ZSTD_maxCLevel() says.
[[nodiscard]] constexpr bool valid_zstd_level(int level) noexcept { return level >= 1 && level <= 22; }

}  // namespace detail

/// The Zstandard codec at a compression level from 1 (fastest) to 22 (smallest); 3 is
/// zstd's default. Values are zstd frames; any level reads what any other wrote.
template <int Level = ZSTD_CLEVEL_DEFAULT>
struct zstd {
    static_assert(detail::valid_zstd_level(Level),
                  "kvforge: zstd<Level> takes a level from 1 (fastest) to 22 (smallest); use zstd<3>, zstd's default, "
                  "when unsure");

    /// The format's name in the MANIFEST; the level is not part of it.
    static constexpr std::string_view name = "zstd";
    /// The compression level.
    static constexpr int level = Level;

    /// ZSTD_compressBound: the largest frame an input of size bytes can become.
    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept { return ZSTD_compressBound(size); }

    /// Writes input as one zstd frame; throws when zstd fails.
    std::size_t compress(std::string_view input, char* output, std::size_t capacity) const {
        return detail::zstd_checked(ZSTD_compressCCtx(&detail::zstd_compression_context(), output, capacity,
                                                      input.data(), input.size(), Level),
                                    "compress");
    }

    /// Decodes one zstd frame of at most size bytes; throws when the frame is damaged,
    /// larger than size, or needs a dictionary.
    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        return detail::zstd_checked(
            ZSTD_decompressDCtx(&detail::zstd_decompression_context(), output, size, input.data(), input.size()),
            "decompress");
    }
};

}  // namespace kvforge
