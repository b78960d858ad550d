#pragma once
// The fuzz harnesses' scratch directory: made once per process (under KVFORGE_TEST_TMPDIR
// when set, else under /dev/shm when it exists, where fsync is cheap), emptied before
// each input, removed at exit.

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace kvforge_fuzz {

/// Stops the process the way a fuzzer reports a finding; what is printed says why.
[[noreturn]] inline void finding(const std::string& what) {
    std::fprintf(stderr, "kvforge fuzz finding: %s\n", what.c_str());
    std::abort();
}

class scratch_dir {
public:
    scratch_dir() {
        namespace fs = std::filesystem;
        std::error_code ec;
        fs::path base = fs::is_directory("/dev/shm", ec) ? fs::path("/dev/shm") : fs::temp_directory_path();
        if (const char* configured = std::getenv("KVFORGE_TEST_TMPDIR")) base = configured;
        std::string pattern = (base / "kvforge-fuzz-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) finding("cannot make a scratch directory under " + base.string());
        path_ = pattern;
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }

    /// An empty directory for one input's store.
    [[nodiscard]] std::filesystem::path fresh_store() const {
        const std::filesystem::path store = path_ / "store";
        std::error_code ignored;
        std::filesystem::remove_all(store, ignored);
        std::filesystem::create_directory(store, ignored);
        return store;
    }

private:
    std::filesystem::path path_;
};

/// The process's scratch directory.
inline const scratch_dir& scratch() {
    static const scratch_dir instance;
    return instance;
}

}  // namespace kvforge_fuzz
