#pragma once
// The dump format: every record of a store as portable text, which `kvforge load` reads
// back byte for byte (docs/dump-format.md describes it for other programs):
//
//     kvforge-dump 2
//     key_codec bytes
//     value_codec uint64.be
//     codec_fingerprint 0123456789abcdef
//     expiry system_clock:1/1000000000
//     records
//     alice<TAB>\x00\x00\x00\x00\x00\x00\x00\x2a
//     bob<TAB>\x00\x00\x00\x00\x00\x00\x00\x07<TAB>1795000000000000000
//     end 2 5e4c2a1b
//
// Each record is one line: the key, a tab, the value, both escaped (text_form.hpp), and
// for a key with a deadline a second tab and the deadline in nanoseconds since the Unix
// epoch, so a line holds one or two raw tabs and no raw control byte. The last line gives
// the number of records and the CRC-32C of every record line (newline included), so a
// dump cut short or changed on the way is refused rather than loaded in part unnoticed.
// Version 1 dumps (no expiry line, no deadlines) are read as well.

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>

namespace kvforge_tool {

/// What a dump says about the store it came from: the codecs its bytes are encoded with,
/// and its expiry.
struct dump_header {
    std::string key_codec;    ///< "?" when the store did not say
    std::string value_codec;  ///< "?" when the store did not say
    std::uint64_t codec_fingerprint = 0;
    std::string expiry = "none";  ///< the store's MANIFEST expiry field; "none" in a version 1 dump
};

/// A key's deadline as a dump carries it: nanoseconds since the Unix epoch (UTC).
using dump_deadline = std::optional<std::int64_t>;

/// Writes a dump to a stream.
class dump_writer {
public:
    explicit dump_writer(std::FILE* out) noexcept : out_(out) {}

    void header(const dump_header& header);
    void record(std::string_view key, std::string_view value, dump_deadline deadline);
    /// Writes the end line; false when any write failed (a full disk, a closed pipe).
    [[nodiscard]] bool finish();

private:
    std::FILE* out_;
    std::string line_;
    std::uint64_t records_ = 0;
    std::uint32_t crc_ = 0;
};

/// Reads a dump from a stream, a record at a time.
class dump_reader {
public:
    explicit dump_reader(std::FILE* in) noexcept : in_(in) {}
    dump_reader(const dump_reader&) = delete;
    dump_reader& operator=(const dump_reader&) = delete;
    ~dump_reader();

    /// Reads the lines before the records; false with problem set when they are not a dump's.
    [[nodiscard]] bool read_header(dump_header& header, std::string& problem);

    enum class step { record, end, failed };
    /// The next record into key, value and deadline; at the end line, checks its count and CRC.
    [[nodiscard]] step next(std::string& key, std::string& value, dump_deadline& deadline, std::string& problem);

    /// Bytes read so far, for progress.
    [[nodiscard]] std::uint64_t bytes_read() const noexcept { return bytes_read_; }

private:
    /// The next line without its newline; false at the end of the stream.
    bool read_line(std::string_view& line, bool& had_newline);
    [[nodiscard]] std::string at_line() const;

    std::FILE* in_;
    char* buffer_ = nullptr;
    std::size_t capacity_ = 0;
    std::uint64_t line_number_ = 0;
    std::uint64_t bytes_read_ = 0;
    std::uint64_t records_ = 0;
    std::uint32_t crc_ = 0;
    int version_ = 0;
};

}  // namespace kvforge_tool
