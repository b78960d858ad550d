// kvforge put DIR KEY VALUE: one write.

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>

#include <kvforge/codec.hpp>
#include <kvforge/stores/log/record_format.hpp>

#include "../cli.hpp"
#include "../commands.hpp"
#include "../errors.hpp"
#include "../exit_codes.hpp"
#include "../key_args.hpp"
#include "../tool_store.hpp"

namespace kvforge_tool {

namespace {

/// Every byte of stdin.
std::string read_stdin() {
    std::string bytes;
    char buffer[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(buffer, 1, sizeof buffer, stdin)) > 0) bytes.append(buffer, got);
    if (std::ferror(stdin)) throw store_failure("read the value from stdin failed");
    return bytes;
}

/// The codecs of a store of std::string keys and values, for a store put creates.
kvforge::composition string_codecs() {
    kvforge::composition c;
    c.key_codec = kvforge::codec<std::string>::name();
    c.value_codec = kvforge::codec<std::string>::name();
    c.codec_fingerprint = kvforge::detail::codec_fingerprint(c.key_codec, c.value_codec);
    return c;
}

/// --ttl SECONDS: how long the key lives, for a store made with `expiring`.
std::optional<std::chrono::seconds> ttl_of(const arguments& parsed) {
    const std::optional<std::string> text = parsed.value("ttl");
    if (!text) return std::nullopt;
    std::uint32_t seconds = 0;
    const auto result = std::from_chars(text->data(), text->data() + text->size(), seconds);
    if (result.ec != std::errc() || result.ptr != text->data() + text->size()) {
        throw usage_error("--ttl takes a number of seconds, not '" + *text + "'");
    }
    return std::chrono::seconds(seconds);
}

int run(const std::vector<std::string>& args) {
    const arguments parsed(args, {{"hex"}, {"as", true}, {"ttl", true}});
    parsed.expect_positionals(3, 3, "DIR KEY VALUE");
    const std::string& dir = parsed.positional()[0];
    const bool hex = parsed.flag("hex");
    const std::optional<std::chrono::seconds> ttl = ttl_of(parsed);
    opened_store store = parsed.value("as") ? open_or_create(dir, *parsed.value("as"), string_codecs())
                                            : open_existing(dir, access::as_is);
    const kvforge::composition& c = store.db.composition();
    const std::string key = read_argument(text_form(c.key_codec, hex), parsed.positional()[1], "KEY");
    std::string text = parsed.positional()[2];
    const bool from_stdin = text == "-";
    if (from_stdin) {
        text = read_stdin();
        // Hex and numbers read from stdin may end in the newline that echo adds.
        if (hex || c.value_codec != "bytes") {
            while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
        }
    }
    // Bytes from stdin are the value as they are; on the command line they are escaped text.
    const std::string value = from_stdin && !hex && c.value_codec == "bytes"
                                  ? text
                                  : read_argument(text_form(c.value_codec, hex), text, "VALUE");
    std::error_code ec;
    if (ttl) {
        store.db.put(key, value, *ttl, ec);
    } else {
        store.db.put(key, value, ec);
    }
    if (!ec) store.db.close(ec);
    if (ec) fail_store(ec, "put into " + dir, dir);
    return exit_ok;
}

}  // namespace

const command put_command = {
    "put", "put DIR KEY VALUE           write VALUE under KEY (VALUE - reads stdin)",
    "usage: kvforge put DIR KEY VALUE [--hex] [--as SPEC] [--ttl SECONDS]\n"
    "\n"
    "Writes VALUE under KEY in the store in DIR, replacing any value it had, and syncs it\n"
    "to disk. VALUE - reads the value from stdin, every byte of it. Keys and values are read\n"
    "in the form of the store's codecs (see kvforge get --help): text with the escapes scan\n"
    "prints (\\\\ for a backslash, \\xHH for any byte).\n"
    "\n"
    "  --hex       KEY and VALUE are hex\n"
    "  --as SPEC   create the store when DIR holds none, with these spec words\n"
    "              (e.g. --as file_log,sorted), for string keys and values; with\n"
    "              `expiring` (--as file_log,expiring) its keys may carry deadlines\n"
    "  --ttl SECONDS\n"
    "              the key expires SECONDS from now (a store made with `expiring`);\n"
    "              a put without --ttl clears a key's deadline\n"
    "  --          ends the options, for a KEY or VALUE that starts with --\n",
    run};

}  // namespace kvforge_tool
