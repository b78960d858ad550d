#include "progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iterator>

namespace kvforge_tool {

namespace {

using clock = std::chrono::steady_clock;

/// Writes a progress line over the previous one, padding with spaces where it was longer.
std::size_t overwrite(const std::string& line, std::size_t previous_width) {
    std::string text = "\r" + line;
    if (line.size() < previous_width) text.append(previous_width - line.size(), ' ');
    std::fputs(text.c_str(), stderr);
    std::fflush(stderr);
    return line.size();
}

void clear_line(std::size_t width) {
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(width), "");
    std::fflush(stderr);
}

std::string duration(double seconds) {
    const auto whole = static_cast<long long>(seconds + 0.5);
    char text[32];
    if (whole >= 3600) {
        std::snprintf(text, sizeof text, "%lld:%02lld:%02lld", whole / 3600, whole / 60 % 60, whole % 60);
    } else {
        std::snprintf(text, sizeof text, "%lld:%02lld", whole / 60, whole % 60);
    }
    return text;
}

}  // namespace

bool progress_wanted() { return ::isatty(STDERR_FILENO) == 1; }

std::string human_bytes(std::uint64_t bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double value = static_cast<double>(bytes);
    std::size_t u = 0;
    while (value >= 1024 && u + 1 < std::size(units)) {
        value /= 1024;
        ++u;
    }
    char text[32];
    if (u == 0) {
        std::snprintf(text, sizeof text, "%llu B", static_cast<unsigned long long>(bytes));
    } else {
        std::snprintf(text, sizeof text, "%.1f %s", value, units[u]);
    }
    return text;
}

progress_bar::progress_bar(std::string what, std::uint64_t total, unit counted)
    : shown_(progress_wanted()), what_(std::move(what)), total_(total), unit_(counted), start_(clock::now()),
      last_draw_(start_) {
    if (shown_) draw(0);  // at once, so that even short work says what it is doing
}

progress_bar::~progress_bar() {
    if (shown_ && drawn_width_ > 0) clear_line(drawn_width_);
}

std::string progress_bar::amount(std::uint64_t n) const {
    return unit_ == unit::bytes ? human_bytes(n) : std::to_string(n);
}

void progress_bar::update(std::uint64_t done) {
    // Looking at the clock every call would cost more than a record's work.
    if (!shown_ || (++calls_ & 255) != 0) return;
    const clock::time_point now = clock::now();
    if (now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(done);
}

void progress_bar::draw(std::uint64_t done) {
    const double seconds = std::chrono::duration<double>(clock::now() - start_).count();
    const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
    std::string line = what_ + " ";
    if (total_ > 0) {
        constexpr std::size_t width = 24;
        const double share = std::min(1.0, static_cast<double>(done) / static_cast<double>(total_));
        const auto filled = static_cast<std::size_t>(share * width);
        line += '[';
        line.append(filled, '#').append(width - filled, '-') += "] ";
        char percent[8];
        std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(share * 100));
        line += percent;
        line += "  " + amount(done) + "/" + amount(total_);
    } else {
        line += amount(done);
    }
    line += unit_ == unit::records ? " records" : "";
    line += "  " + amount(static_cast<std::uint64_t>(rate)) + (unit_ == unit::records ? " records/s" : "/s");
    if (total_ > done && rate > 0) {
        line += "  " + duration(static_cast<double>(total_ - done) / rate) + " left";
    }
    drawn_width_ = overwrite(line, drawn_width_);
}

activity::activity(std::string what) : what_(std::move(what)) {
    if (!progress_wanted()) return;
    ticker_ = std::thread([this] {
        const clock::time_point start = clock::now();
        std::size_t width = overwrite(what_ + " ... " + duration(0), 0);
        std::unique_lock lock(mutex_);
        while (!stop_requested_.wait_for(lock, std::chrono::milliseconds(200), [this] { return stopping_; })) {
            const double seconds = std::chrono::duration<double>(clock::now() - start).count();
            width = overwrite(what_ + " ... " + duration(seconds), width);
        }
        if (width > 0) clear_line(width);
    });
}

activity::~activity() {
    if (!ticker_.joinable()) return;
    {
        const std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    stop_requested_.notify_one();
    ticker_.join();
}

}  // namespace kvforge_tool
