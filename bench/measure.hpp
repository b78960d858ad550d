#pragma once
// What the benchmarks measure beside time: heap allocations, peak resident memory and
// bytes on disk, and the scratch directories engines write into.
//
//   KVFORGE_BENCH_DIR   where engines get their directories (default /var/tmp: a real disk,
//                       since sync_each and the fdatasync limit must reach one; /tmp may be tmpfs)

#include <sys/stat.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <system_error>

#include <time.h>
#include <unistd.h>

namespace kvbench {

/// Heap allocations so far in the whole process; the benchmark binary's replacement of
/// malloc (or of operator new, under sanitizers) counts them.
std::uint64_t allocation_count() noexcept;

/// Resets the process's peak resident memory to its current resident memory.
inline void reset_peak_memory() {
    std::ofstream clear_refs("/proc/self/clear_refs");
    clear_refs << "5";
}

/// A "VmXXX:  N kB" line of /proc/self/status, in bytes.
inline std::uint64_t status_bytes(const std::string& field) {
    std::ifstream status("/proc/self/status");
    std::string label;
    std::uint64_t kib = 0;
    std::string unit;
    while (status >> label) {
        if (label == field + ":") {
            status >> kib >> unit;
            return kib * 1024;
        }
        status.ignore(4096, '\n');
    }
    return 0;
}

/// Resident memory now, and its peak since reset_peak_memory().
inline std::uint64_t resident_bytes() { return status_bytes("VmRSS"); }
inline std::uint64_t peak_resident_bytes() { return status_bytes("VmHWM"); }

/// Bytes the files under dir occupy on disk (allocated blocks, so sparse files and
/// preallocated space count as the file system counts them).
inline std::uint64_t disk_bytes(const std::filesystem::path& dir) {
    std::uint64_t total = 0;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
        struct stat st {};
        if (entry.is_regular_file() && ::stat(entry.path().c_str(), &st) == 0) {
            total += static_cast<std::uint64_t>(st.st_blocks) * 512;
        }
    }
    return total;
}

/// The directory under which engines get their own, from KVFORGE_BENCH_DIR.
inline std::filesystem::path bench_root() {
    const char* dir = std::getenv("KVFORGE_BENCH_DIR");
    return (dir != nullptr && *dir != '\0') ? std::filesystem::path(dir) : std::filesystem::path("/var/tmp");
}

/// A fresh empty directory under bench_root(), removed with everything in it on destruction.
class scratch_dir {
public:
    scratch_dir() {
        std::random_device seed;
        path_ = bench_root() / ("kvforge-bench-" + std::to_string(::getpid()) + "-" + std::to_string(seed()));
        std::filesystem::create_directories(path_);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ignored;
        std::filesystem::remove_all(path_, ignored);
    }
    [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

private:
    std::filesystem::path path_;
};

/// Seconds of wall time since construction.
class stopwatch {
public:
    [[nodiscard]] double seconds() const {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    }

private:
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

/// CPU seconds the whole process (every thread, user and system) used since construction.
class cpu_stopwatch {
public:
    [[nodiscard]] double seconds() const { return now() - start_; }

private:
    static double now() {
        timespec t{};
        ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
    }
    double start_ = now();
};

}  // namespace kvbench
