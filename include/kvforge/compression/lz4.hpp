#pragma once
/// \file compression/lz4.hpp
/// kvforge::lz4: the LZ4 block codec. Needs liblz4: link -llz4, or take in CMake's
/// kvforge::lz4, pkg-config's kvforge-lz4 or meson's kvforge_lz4_dep. The umbrella
/// header <kvforge/kvforge.hpp> does not include it.

#include <lz4.h>

#include <cstddef>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>

#include "codec.hpp"

namespace kvforge {
namespace detail {

/// This thread's LZ4 compression state, made at its first use and kept until the thread
/// ends, so that no call puts LZ4's 16 KiB table on the stack or allocates it.
[[nodiscard]] inline void* lz4_compression_state() {
    // LZ4_compress_fast_extState wants the state aligned for pointers; operator new gives
    // at least that.
    thread_local std::unique_ptr<char[]> state;
    if (!state) state.reset(new char[static_cast<std::size_t>(LZ4_sizeofState())]);
    return state.get();
}

/// Whether an input of size bytes fits in LZ4's int-sized block.
[[nodiscard]] constexpr bool lz4_can_take(std::size_t size) noexcept { return size <= LZ4_MAX_INPUT_SIZE; }

}  // namespace detail

/// The LZ4 block codec at its default speed (acceleration 1): much faster than zstd, and
/// compresses less. A value is one LZ4 block; its size is kept beside it by compress_value.
struct lz4 {
    /// The format's name in the MANIFEST.
    static constexpr std::string_view name = "lz4";

    /// LZ4_compressBound for inputs LZ4 takes; 0 for larger ones, which compress refuses.
    [[nodiscard]] std::size_t max_compressed_size(std::size_t size) const noexcept {
        return detail::lz4_can_take(size) ? static_cast<std::size_t>(LZ4_compressBound(static_cast<int>(size))) : 0;
    }

    /// Writes input as one LZ4 block; throws when LZ4 cannot (an input over LZ4_MAX_INPUT_SIZE).
    std::size_t compress(std::string_view input, char* output, std::size_t capacity) const {
        if (!detail::lz4_can_take(input.size())) {
            throw std::length_error("lz4 compress: an input of " + std::to_string(input.size()) +
                                    " bytes is over LZ4_MAX_INPUT_SIZE");
        }
        const int room = capacity > LZ4_MAX_INPUT_SIZE ? LZ4_compressBound(LZ4_MAX_INPUT_SIZE) : static_cast<int>(capacity);
        const int written = LZ4_compress_fast_extState(detail::lz4_compression_state(), input.data(), output,
                                                       static_cast<int>(input.size()), room, 1);
        if (written <= 0) throw std::runtime_error("lz4 compress: the output does not fit");
        return static_cast<std::size_t>(written);
    }

    /// Decodes one LZ4 block of at most size bytes; throws when the block is damaged or
    /// decodes to more than size bytes.
    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        if (!detail::lz4_can_take(input.size()) || !detail::lz4_can_take(size)) {
            throw std::length_error("lz4 decompress: a block or value over LZ4_MAX_INPUT_SIZE");
        }
        const int written = LZ4_decompress_safe(input.data(), output, static_cast<int>(input.size()), static_cast<int>(size));
        if (written < 0) throw std::runtime_error("lz4 decompress: the block is damaged");
        return static_cast<std::size_t>(written);
    }
};

}  // namespace kvforge
