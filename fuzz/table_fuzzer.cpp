// libFuzzer entry point: reading sorted tables and their blocks from arbitrary bytes.
// The harness and the input's layout are in table_harness.hpp; tools/fuzz.sh builds and runs it.

#include <cstddef>
#include <cstdint>

#include "table_harness.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    kvforge_fuzz::run_table_input(data, size);
    return 0;
}
