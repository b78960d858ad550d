#include "dump_format.hpp"

#include <kvforge/detail/crc32c.hpp>
#include <kvforge/manifest.hpp>

#include <stdio.h>  // getline (POSIX)

#include <cstdint>
#include <cstdlib>
#include <limits>

#include "text_form.hpp"

namespace kvforge_tool {

namespace {

/// The first line of a dump, less its version number.
constexpr std::string_view magic = "kvforge-dump ";
/// The version written: 2 added the expiry line and the records' deadlines.
constexpr int version = 2;

std::string hex_number(std::uint64_t value, int digits) {
    char text[24];
    std::snprintf(text, sizeof text, "%0*llx", digits, static_cast<unsigned long long>(value));
    return text;
}

/// Splits "name value" into its value when the name matches; false otherwise.
bool field(std::string_view line, std::string_view name, std::string_view& value) {
    if (line.size() <= name.size() || line.substr(0, name.size()) != name || line[name.size()] != ' ') return false;
    value = line.substr(name.size() + 1);
    return true;
}

}  // namespace

void dump_writer::header(const dump_header& header) {
    std::fprintf(out_, "%s%d\nkey_codec %s\nvalue_codec %s\ncodec_fingerprint %s\nexpiry %s\nrecords\n", magic.data(),
                 version, header.key_codec.c_str(), header.value_codec.c_str(),
                 hex_number(header.codec_fingerprint, 16).c_str(), header.expiry.c_str());
}

void dump_writer::record(std::string_view key, std::string_view value, dump_deadline deadline) {
    line_ = escape(key);
    line_ += '\t';
    line_ += escape(value);
    if (deadline) {
        line_ += '\t';
        line_ += std::to_string(*deadline);
    }
    line_ += '\n';
    crc_ = kvforge::detail::crc32c_extend(crc_, line_);
    std::fwrite(line_.data(), 1, line_.size(), out_);
    ++records_;
}

bool dump_writer::finish() {
    std::fprintf(out_, "end %llu %s\n", static_cast<unsigned long long>(records_), hex_number(crc_, 8).c_str());
    return std::fflush(out_) == 0 && std::ferror(out_) == 0;
}

dump_reader::~dump_reader() { std::free(buffer_); }

bool dump_reader::read_line(std::string_view& line, bool& had_newline) {
    const ssize_t length = ::getline(&buffer_, &capacity_, in_);
    if (length < 0) return false;
    ++line_number_;
    bytes_read_ += static_cast<std::uint64_t>(length);
    had_newline = length > 0 && buffer_[length - 1] == '\n';
    line = std::string_view(buffer_, static_cast<std::size_t>(length) - (had_newline ? 1 : 0));
    return true;
}

std::string dump_reader::at_line() const { return "line " + std::to_string(line_number_); }

bool dump_reader::read_header(dump_header& header, std::string& problem) {
    std::string_view line;
    bool newline = false;
    if (!read_line(line, newline) || line.substr(0, magic.size()) != magic) {
        problem = "does not start with '" + std::string(magic) + std::to_string(version) +
                  "'; it is not a kvforge dump (make one with kvforge dump)";
        return false;
    }
    const std::string_view number = line.substr(magic.size());
    if (number != "1" && number != "2") {
        problem = "is a kvforge dump of version " + std::string(number) + ", and this kvforge reads versions 1 to " +
                  std::to_string(version) + "; load it with the kvforge that made it";
        return false;
    }
    version_ = number[0] - '0';
    std::string_view value;
    const bool ok = read_line(line, newline) && field(line, "key_codec", value);
    if (ok) header.key_codec = std::string(value);
    std::uint64_t fingerprint = 0;
    if (!ok || !read_line(line, newline) || !field(line, "value_codec", value)) {
        problem = at_line() + ": expected the key_codec and value_codec lines of a dump's header";
        return false;
    }
    header.value_codec = std::string(value);
    if (!read_line(line, newline) || !field(line, "codec_fingerprint", value) ||
        !kvforge::detail::parse_manifest_number(value, 16, fingerprint) || value.size() != 16) {
        problem = at_line() + ": expected 'codec_fingerprint' and 16 hex digits";
        return false;
    }
    header.codec_fingerprint = fingerprint;
    if (version_ >= 2) {
        if (!read_line(line, newline) || !field(line, "expiry", value)) {
            problem = at_line() + ": expected 'expiry' and the expiry of the store the dump was made of";
            return false;
        }
        header.expiry = std::string(value);
    }
    if (!read_line(line, newline) || line != "records") {
        problem = at_line() + ": expected 'records', the last line of a dump's header";
        return false;
    }
    return true;
}

dump_reader::step dump_reader::next(std::string& key, std::string& value, dump_deadline& deadline,
                                    std::string& problem) {
    std::string_view line;
    bool newline = false;
    if (!read_line(line, newline)) {
        problem = "the dump ends after " + std::to_string(records_) +
                  " records without its 'end' line: it was cut short (make it again)";
        return step::failed;
    }
    if (!newline) {
        problem = at_line() + ": the last line has no newline: the dump was cut short";
        return step::failed;
    }
    const std::size_t tab = line.find('\t');
    if (tab == std::string_view::npos) {
        std::string_view rest;
        if (!field(line, "end", rest)) {
            problem = at_line() + ": a record line needs a tab between key and value";
            return step::failed;
        }
        const std::string expected = std::to_string(records_) + " " + hex_number(crc_, 8);
        if (rest != expected) {
            problem = at_line() + ": the end line says '" + std::string(rest) + "' but the dump holds " +
                      std::to_string(records_) + " records with CRC " + hex_number(crc_, 8) +
                      ": it was changed or cut on the way";
            return step::failed;
        }
        return step::end;
    }
    crc_ = kvforge::detail::crc32c_extend(crc_, std::string_view(line.data(), line.size() + 1));
    std::string_view value_text = line.substr(tab + 1);
    deadline.reset();
    // In a version 1 dump a raw tab in a value is the value's; in version 2 one starts the deadline.
    if (const std::size_t second = value_text.find('\t'); version_ >= 2 && second != std::string_view::npos) {
        const std::string_view text = value_text.substr(second + 1);
        std::uint64_t nanoseconds = 0;
        if (!kvforge::detail::parse_manifest_number(text, 10, nanoseconds) ||
            nanoseconds > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
            problem = at_line() +
                      ": the field after the value's tab must be a deadline, in nanoseconds since the "
                      "Unix epoch, not '" +
                      std::string(text) + "'";
            return step::failed;
        }
        deadline = static_cast<std::int64_t>(nanoseconds);
        value_text = value_text.substr(0, second);
    }
    std::string why;
    if (!unescape(line.substr(0, tab), key, why) || !unescape(value_text, value, why)) {
        problem = at_line() + ": " + why;
        return step::failed;
    }
    ++records_;
    return step::record;
}

}  // namespace kvforge_tool
