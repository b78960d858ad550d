#pragma once
// How the tool shows stored bytes as text and reads them back from text.
//
//   escaped   printable ASCII as it is; backslash, tab, newline and carriage return as
//             \\ \t \n \r; every other byte as \xHH. Never a raw control byte, so no
//             value can move a terminal's cursor or forge a line of output.
//   hex       two lower-case hex digits per byte (--hex).
//   number    decimal, for the built-in integer and floating-point codecs
//             (uint64.be, int32.be, float64.be, ...), read and written through them.
//
// A store's key and value codecs (their names, from its manifest) choose the form:
// "bytes" is escaped, the number codecs are numbers, any other codec is hex, since the
// tool cannot know its encoding. --hex makes every form hex.

#include <string>
#include <string_view>

namespace kvforge_tool {

/// bytes escaped as above.
[[nodiscard]] std::string escape(std::string_view bytes);
/// Reads escaped text back into bytes; false (with problem set) for a malformed escape.
[[nodiscard]] bool unescape(std::string_view text, std::string& bytes, std::string& problem);

[[nodiscard]] std::string to_hex(std::string_view bytes);
/// Reads hex (either case) into bytes; false (with problem set) when text is not hex.
[[nodiscard]] bool from_hex(std::string_view text, std::string& bytes, std::string& problem);

/// The form of a codec's bytes, by the codec's name.
class text_form {
public:
    /// The form for codec `codec_name` ("bytes", "uint64.be", ...), or hex for every codec when hex.
    text_form(std::string_view codec_name, bool hex);

    /// The stored bytes as text.
    [[nodiscard]] std::string show(std::string_view bytes) const;
    /// Text given on the command line, as the bytes to store; false (with problem set)
    /// when text is not of this form. "bytes" reads the escaped form that show() writes,
    /// so that a key that scan prints is one that get, put and del take.
    [[nodiscard]] bool read(std::string_view text, std::string& bytes, std::string& problem) const;
    /// Says how this form reads text, for error messages: "a decimal integer", "hex", ...
    [[nodiscard]] std::string describe() const;
    /// Whether this form is hex.
    [[nodiscard]] bool is_hex() const noexcept { return kind_ == kind::hex; }

private:
    enum class kind { bytes, hex, signed_integer, unsigned_integer, floating };
    kind kind_;
    unsigned bits_ = 0;
    std::string codec_;
};

}  // namespace kvforge_tool
