// The program the consumer tests build against kvforge's codec targets (CMake kvforge::zstd and
// kvforge::lz4, meson's kvforge-zstd and kvforge-lz4, pkg-config's kvforge-zstd and kvforge-lz4):
// it includes the optional headers, so it links only when the target brought libzstd and liblz4.

#include <kvforge/compression/lz4.hpp>
#include <kvforge/compression/zstd.hpp>
#include <kvforge/kvforge.hpp>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

namespace {

template <class Codec>
bool round_trips(const Codec& codec, const std::string& value) {
    std::string compressed;
    std::string back;
    kvforge::compress_value(codec, value, compressed);
    kvforge::decompress_value(codec, compressed, back);
    return back == value && compressed.size() < value.size();
}

}  // namespace

int main() {
    std::string value;
    for (int i = 0; i < 100; ++i) value += "{\"user\":\"alice\",\"role\":\"admin\",\"n\":" + std::to_string(i) + "}";
    bool ok = false;
    try {
        ok = round_trips(kvforge::zstd<3>{}, value) && round_trips(kvforge::lz4{}, value);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "consumer: %s\n", e.what());
    }
    std::printf("kvforge %d.%d.%d: zstd and lz4 codecs %s\n", KVFORGE_VERSION_MAJOR, KVFORGE_VERSION_MINOR,
                KVFORGE_VERSION_PATCH, ok ? "round-trip" : "FAILED");
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}
