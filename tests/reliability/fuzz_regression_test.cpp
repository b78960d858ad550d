// The fuzzers' findings as regression tests: every file of fuzz/regressions/<name>/ and
// of the seed corpus fuzz/corpus/<name>/ is run through the harness the fuzzer uses
// (fuzz/open_harness.hpp, fuzz/ops_harness.hpp, fuzz/table_harness.hpp), which aborts on any finding.
//
// The fuzz/ directory is KVFORGE_FUZZ_DIR when the build defines it, else found next to
// this source file. tools/fuzz.sh runs the fuzzers themselves.

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "../../fuzz/open_harness.hpp"
#include "../../fuzz/ops_harness.hpp"
#include "../../fuzz/table_harness.hpp"

namespace {

namespace fs = std::filesystem;

fs::path fuzz_dir() {
#ifdef KVFORGE_FUZZ_DIR
    return KVFORGE_FUZZ_DIR;
#else
    return fs::path(__FILE__).parent_path().parent_path().parent_path() / "fuzz";
#endif
}

/// The inputs kept for one fuzzer, in name order.
std::vector<fs::path> inputs_of(const std::string& name) {
    std::vector<fs::path> files;
    for (const char* kind : {"corpus", "regressions"}) {
        const fs::path dir = fuzz_dir() / kind / name;
        if (!fs::is_directory(dir)) continue;
        for (const auto& entry : fs::directory_iterator(dir)) {
            if (entry.is_regular_file() && entry.path().filename() != ".gitkeep") files.push_back(entry.path());
        }
    }
    std::sort(files.begin(), files.end());
    return files;
}

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

template <class Harness>
void replay(const std::string& name, Harness&& harness) {
    const std::vector<fs::path> files = inputs_of(name);
    INFO("fuzz directory: " << fuzz_dir().string());
    REQUIRE(!files.empty());  // the seed corpus at least
    for (const fs::path& file : files) {
        INFO("replaying " << file.string());
        const std::vector<std::uint8_t> bytes = read_bytes(file);
        harness(bytes.data(), bytes.size());
    }
    SUCCEED(files.size() << " inputs replayed");
}

}  // namespace

TEST_CASE("fuzz regressions: opening stores from the kept file bytes", "[reliability][fuzz]") {
    replay("open", kvforge_fuzz::run_open_input);
}

TEST_CASE("fuzz regressions: the kept operation sequences", "[reliability][fuzz]") {
    replay("ops", kvforge_fuzz::run_ops_input);
}

TEST_CASE("fuzz regressions: sorted tables and blocks from the kept bytes", "[reliability][fuzz][table]") {
    replay("table", kvforge_fuzz::run_table_input);
}
