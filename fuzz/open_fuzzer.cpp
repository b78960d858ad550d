// libFuzzer entry point: opening and recovering a store from arbitrary file bytes.
// The harness and the input's layout are in open_harness.hpp; tools/fuzz.sh builds and runs it.

#include <cstddef>
#include <cstdint>

#include "open_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kvforge_fuzz::run_open_input(data, size);
    return 0;
}
