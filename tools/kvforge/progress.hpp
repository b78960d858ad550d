#pragma once
// Progress on stderr for long work, only when stderr is a terminal: nothing of the kind
// reaches a pipe or a file, so output stays the same whoever reads it.
//
//   progress_bar  counted work (records, bytes): bar, share, rate and time left
//   activity      one long call with nothing to count (verify, compact): the time it has run

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace kvforge_tool {

/// Whether progress is shown: stderr is a terminal.
[[nodiscard]] bool progress_wanted();

/// "1.5 MiB", "512 B".
[[nodiscard]] std::string human_bytes(std::uint64_t bytes);

/// A progress line for counted work, redrawn at most ten times a second, cleared when done.
class progress_bar {
public:
    enum class unit { records, bytes };

    /// total 0: not known, so no bar or time left, only the count and the rate.
    progress_bar(std::string what, std::uint64_t total, unit counted = unit::records);
    progress_bar(const progress_bar&) = delete;
    progress_bar& operator=(const progress_bar&) = delete;
    ~progress_bar();

    void update(std::uint64_t done);

private:
    void draw(std::uint64_t done);
    [[nodiscard]] std::string amount(std::uint64_t n) const;

    bool shown_;
    std::string what_;
    std::uint64_t total_;
    unit unit_;
    std::chrono::steady_clock::time_point start_;
    std::chrono::steady_clock::time_point last_draw_;
    std::uint64_t calls_ = 0;
    std::size_t drawn_width_ = 0;
};

/// A line saying what runs and for how long, redrawn by a thread of its own until destroyed.
class activity {
public:
    explicit activity(std::string what);
    activity(const activity&) = delete;
    activity& operator=(const activity&) = delete;
    ~activity();

private:
    std::string what_;
    std::mutex mutex_;
    std::condition_variable stop_requested_;
    bool stopping_ = false;
    std::thread ticker_;
};

}  // namespace kvforge_tool
