#pragma once
// The dump format: every record of a store as portable text, which `kvforge load` reads
// back byte for byte (docs/dump-format.md describes it for other programs):
//
//     kvforge-dump 1
//     key_codec bytes
//     value_codec uint64.be
//     codec_fingerprint 0123456789abcdef
//     records
//     alice<TAB>\x00\x00\x00\x00\x00\x00\x00\x2a
//     end 1 5e4c2a1b
//
// Each record is one line: the key, a tab, the value, both escaped (text_form.hpp), so
// a line holds exactly one raw tab and no raw control byte. The last line gives the
// number of records and the CRC-32C of every record line (newline included), so a dump
// cut short or changed on the way is refused rather than loaded in part unnoticed.

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace kvforge_tool {

/// What a dump says about the store it came from: the codecs its bytes are encoded with.
struct dump_header {
    std::string key_codec;    ///< "?" when the store did not say
    std::string value_codec;  ///< "?" when the store did not say
    std::uint64_t codec_fingerprint = 0;
};

/// Writes a dump to a stream.
class dump_writer {
public:
    explicit dump_writer(std::FILE* out) noexcept : out_(out) {}

    void header(const dump_header& header);
    void record(std::string_view key, std::string_view value);
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
    /// The next record into key and value; at the end line, checks its count and CRC.
    [[nodiscard]] step next(std::string& key, std::string& value, std::string& problem);

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
};

}  // namespace kvforge_tool
