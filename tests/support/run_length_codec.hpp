#pragma once
// A compression codec written from kvforge::compression_codec alone, needing no library:
// each run of a byte as (count, byte). The conformance suite runs compressed stores with
// it, since that suite links neither libzstd nor liblz4; the compression tests also make
// it fail on purpose.

#include <cstddef>
#include <stdexcept>
#include <string_view>

namespace kvforge_test {

/// How run_length's decompress behaves: as it should, or as a broken codec would.
enum class decoding { faithful, throws, short_by_one };

template <decoding Decoding = decoding::faithful>
struct run_length {
    static constexpr std::string_view name = "run-length";

    std::size_t max_compressed_size(std::size_t size) const noexcept { return 2 * size; }

    std::size_t compress(std::string_view input, char* output, std::size_t) const {
        std::size_t written = 0;
        for (std::size_t i = 0; i < input.size();) {
            std::size_t run = 1;
            while (i + run < input.size() && input[i + run] == input[i] && run < 255) ++run;
            output[written++] = static_cast<char>(run);
            output[written++] = input[i];
            i += run;
        }
        return written;
    }

    std::size_t decompress(std::string_view input, char* output, std::size_t size) const {
        if constexpr (Decoding == decoding::throws) throw std::runtime_error("run-length: the input is damaged");
        std::size_t written = 0;
        for (std::size_t i = 0; i + 1 < input.size(); i += 2) {
            const auto run = static_cast<unsigned char>(input[i]);
            if (written + run > size) throw std::runtime_error("run-length: the runs are longer than the value");
            for (unsigned n = 0; n < run; ++n) output[written++] = input[i + 1];
        }
        if constexpr (Decoding == decoding::short_by_one) return written - 1;
        return written;
    }
};

}  // namespace kvforge_test
