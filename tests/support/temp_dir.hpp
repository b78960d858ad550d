#pragma once
// A directory for one test's files, removed with everything in it afterwards.
//
// It is made under KVFORGE_TEST_TMPDIR when set, else under /dev/shm when that is a
// directory (tmpfs: fdatasync costs microseconds instead of milliseconds, and these
// tests check behaviour, not the disk), else under the system's temporary directory.

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace kvforge_test {

class temp_dir {
public:
    temp_dir() {
        namespace fs = std::filesystem;
        fs::path base;
        if (const char* configured = std::getenv("KVFORGE_TEST_TMPDIR")) {
            base = configured;
        } else if (std::error_code ec; fs::is_directory("/dev/shm", ec)) {
            base = "/dev/shm";
        } else {
            base = fs::temp_directory_path();
        }
        std::string pattern = (base / "kvforge-test-XXXXXX").string();
        if (::mkdtemp(pattern.data()) == nullptr) throw std::system_error(errno, std::system_category(), pattern);
        path_ = pattern;
    }
    temp_dir(const temp_dir&) = delete;
    temp_dir& operator=(const temp_dir&) = delete;
    ~temp_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }

    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }
    /// A path inside the directory.
    [[nodiscard]] std::string operator/(const std::string& name) const { return (path_ / name).string(); }

private:
    std::filesystem::path path_;
};

}  // namespace kvforge_test
