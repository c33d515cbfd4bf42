#include "operators/query.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "engine/startup_registry.h"
#include "engine/unicode.h"
#include "engine/yaml_reader.h"

namespace brandpulse {
namespace {

StartupRegistry<QueryFieldDefinition>& Fields() {
  static StartupRegistry<QueryFieldDefinition> registry;
  return registry;
}

// The registered field written as `word` ("sentiment:negative"), with its index; nullptr if none.
const QueryFieldDefinition* FindRegisteredField(std::string_view word, uint32_t& index) {
  for (index = 0; index < Fields().size(); ++index) {
    const std::string& name = Fields()[index].name;
    if (word.size() > name.size() && word.starts_with(name) && word[name.size()] == ':') {
      return &Fields()[index];
    }
  }
  return nullptr;
}

enum class TokenKind : uint8_t { kWord, kPhrase, kExact, kOpen, kClose };

struct Token {
  TokenKind kind = TokenKind::kWord;
  std::string text;            // word, phrase body or braces body
  std::optional<uint32_t> proximity;  // "a b"~n
  SourceLocation location;
};

bool IsQuerySpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

bool HasAccent(std::string_view text) {
  for (size_t position = 0; position < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    uint32_t folded = FoldCodePoint(decoded.code_point);
    if (StripAccent(folded) != folded) return true;
    position += decoded.length;
  }
  return false;
}

// Every byte part of a UTF-8 character (a lone 0x9c is not; it would print as a term that does
// not parse again).
bool IsValidUtf8(std::string_view text) {
  for (size_t position = 0; position < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    if (decoded.code_point == kReplacementCharacter && decoded.length == 1) return false;
    position += decoded.length;
  }
  return true;
}

bool HasMatchableCharacter(std::string_view text) {
  for (size_t position = 0; position < text.size();) {
    DecodedCodePoint decoded = DecodeCodePointAt(text, position);
    if (decoded.code_point > 0x20 && decoded.code_point != kReplacementCharacter &&
        decoded.code_point != '#' && decoded.code_point != '@' && decoded.code_point != '$') {
      // Letters, digits, emoji and symbols all count; lone sigils and spaces do not.
      if (IsWordCodePoint(decoded.code_point) || decoded.code_point >= 0x2000) return true;
    }
    position += decoded.length;
  }
  return false;
}

class Parser {
 public:
  Parser(std::string_view text, const SourceLocation& start, int indent, Diagnostics& diagnostics)
      : text_(text), start_(start), indent_(indent), diagnostics_(diagnostics) {}

  std::optional<Query> Parse() {
    const size_t before = diagnostics_.size();
    Tokenize();
    Query query;
    query.source = std::string(text_);
    nodes_ = &query.nodes;
    if (diagnostics_.size() != before) return std::nullopt;
    if (tokens_.empty()) {
      Error(start_, "the query is empty", "write at least one term, e.g. telenor");
      return std::nullopt;
    }
    std::optional<uint32_t> root = ParseSequence();
    if (root && position_ < tokens_.size()) {
      const Token& token = tokens_[position_];
      if (token.kind == TokenKind::kClose) {
        Error(token.location, "')' has no matching '('", "remove it or add a '(' before");
      } else {
        Error(token.location, fmt::format("unexpected '{}'", Describe(token)),
              "join the parts with AND or OR");
      }
    }
    if (diagnostics_.size() != before || !root) return std::nullopt;
    if (!Positive(query, *root)) {
      Error(start_, "the query only says what must be absent (a purely negative query)",
            "add a term that must be present: telenor AND NOT arena");
      return std::nullopt;
    }
    query.root = *root;
    return query;
  }

 private:
  // A node that can be true only when something is present.
  static bool Positive(const Query& query, uint32_t index) {
    const QueryNode& node = query.nodes[index];
    switch (node.op) {
      case QueryOp::kTerm:
      case QueryOp::kField:
      case QueryOp::kNear:
        return true;
      case QueryOp::kNot:
        return false;
      case QueryOp::kAnd:
        return std::any_of(node.children.begin(), node.children.end(),
                           [&](uint32_t child) { return Positive(query, child); });
      case QueryOp::kOr:
        return std::all_of(node.children.begin(), node.children.end(),
                           [&](uint32_t child) { return Positive(query, child); });
    }
    return false;
  }

  // The location of `offset`. The tokenizer asks for increasing offsets, so a cursor carries the
  // line and column forward: parsing stays linear in the length of the query.
  SourceLocation LocationAt(size_t offset) {
    if (offset < cursor_.offset) cursor_ = Cursor{};
    for (; cursor_.offset < offset && cursor_.offset < text_.size(); ++cursor_.offset) {
      const char c = text_[cursor_.offset];
      if (c == '\n') {
        ++cursor_.line;
        cursor_.columns = 0;
      } else {
        cursor_.columns += (static_cast<uint8_t>(c) & 0xC0) != 0x80;
      }
    }
    SourceLocation location = start_;
    location.line = start_.line + cursor_.line;
    location.column = (cursor_.line == 0 ? start_.column : indent_) + cursor_.columns;
    return location;
  }

  // Counts one level of nesting for the lifetime of a parse step; false (and one error) past
  // kMaxQueryDepth.
  bool Enter(const SourceLocation& location) {
    if (++depth_ <= kMaxQueryDepth) return true;
    Error(location, fmt::format("the query is nested deeper than {} levels", kMaxQueryDepth),
          "flatten it: a OR b OR c and a AND NOT b need no parentheses");
    return false;
  }
  struct Leave {
    size_t& depth;
    ~Leave() { --depth; }
  };

  void Error(const SourceLocation& location, std::string message, std::string hint) {
    diagnostics_.Add(location, std::move(message), std::move(hint));
  }

  void Tokenize() {
    size_t i = 0;
    while (i < text_.size()) {
      char c = text_[i];
      if (IsQuerySpace(c)) {
        ++i;
        continue;
      }
      // "//" starts a comment at the start of a line or after white space.
      if (c == '/' && i + 1 < text_.size() && text_[i + 1] == '/' &&
          (i == 0 || IsQuerySpace(text_[i - 1]))) {
        while (i < text_.size() && text_[i] != '\n') ++i;
        continue;
      }
      Token token;
      token.location = LocationAt(i);
      if (c == '(' || c == ')') {
        // Refused here already, so a million '(' do not first become a million tokens.
        open_parentheses_ += c == '(' ? 1 : -1;
        if (open_parentheses_ > static_cast<int64_t>(kMaxQueryDepth)) {
          depth_ = kMaxQueryDepth;
          Enter(token.location);
          return;
        }
        token.kind = c == '(' ? TokenKind::kOpen : TokenKind::kClose;
        token.text = std::string(1, c);
        ++i;
      } else if (c == '"' || c == '{') {
        const char close = c == '"' ? '"' : '}';
        size_t end = text_.find(close, i + 1);
        if (end == std::string_view::npos) {
          Error(token.location,
                c == '"' ? "the quoted phrase has no closing '\"'" : "'{' has no closing '}'",
                c == '"' ? "close the phrase: \"telenor norge\"" : "close it: {BT}");
          return;
        }
        token.kind = c == '"' ? TokenKind::kPhrase : TokenKind::kExact;
        token.text = NormalizeSpaces(text_.substr(i + 1, end - i - 1));
        i = end + 1;
        if (!IsValidUtf8(token.text)) {
          Error(token.location,
                fmt::format("{} is not valid UTF-8", c == '"' ? "the phrase" : "'{...}'"),
                "save the watchlist as UTF-8");
        } else if (token.text.empty() || !HasMatchableCharacter(token.text)) {
          Error(token.location,
                fmt::format("{} holds nothing to find", c == '"' ? "the phrase" : "'{...}'"),
                "put words inside, or remove it");
        }
        if (c == '"' && i < text_.size() && text_[i] == '~') {
          size_t digits = i + 1;
          while (digits < text_.size() && text_[digits] >= '0' && text_[digits] <= '9') ++digits;
          uint32_t distance = 0;
          auto [end_of_number, error] =
              std::from_chars(text_.data() + i + 1, text_.data() + digits, distance);
          if (digits == i + 1 || error != std::errc() || end_of_number != text_.data() + digits) {
            Error(LocationAt(i), "'~' after a phrase needs a number of words",
                  "write \"telenor arena\"~3");
          } else {
            token.proximity = distance;
          }
          i = digits;
        }
      } else {
        size_t end = i;
        while (end < text_.size() && !IsQuerySpace(text_[end]) && text_[end] != '(' &&
               text_[end] != ')' && text_[end] != '"' && text_[end] != '{' && text_[end] != '}') {
          ++end;
        }
        if (end == i) {  // a lone '}'
          Error(token.location, "'}' has no matching '{'", "remove it or add a '{' before");
          ++i;
          continue;
        }
        token.kind = TokenKind::kWord;
        token.text = std::string(text_.substr(i, end - i));
        i = end;
      }
      tokens_.push_back(std::move(token));
    }
  }

  static std::string NormalizeSpaces(std::string_view text) {
    std::string out;
    bool pending = false;
    for (char c : text) {
      if (IsQuerySpace(c)) {
        pending = !out.empty();
        continue;
      }
      if (pending) out.push_back(' ');
      pending = false;
      out.push_back(c);
    }
    return out;
  }

  static std::string Describe(const Token& token) {
    switch (token.kind) {
      case TokenKind::kPhrase:
        return fmt::format("\"{}\"", token.text);
      case TokenKind::kExact:
        return fmt::format("{{{}}}", token.text);
      default:
        return token.text;
    }
  }

  const Token* Peek() const { return position_ < tokens_.size() ? &tokens_[position_] : nullptr; }
  bool PeekWord(std::string_view word) const {
    const Token* token = Peek();
    return token != nullptr && token->kind == TokenKind::kWord && token->text == word;
  }
  static bool IsNearWord(std::string_view word) { return word.starts_with("NEAR/"); }
  static bool IsOperatorWord(std::string_view word) {
    return word == "AND" || word == "OR" || word == "NOT" || IsNearWord(word);
  }

  uint32_t Add(QueryNode node) {
    nodes_->push_back(std::move(node));
    return static_cast<uint32_t>(nodes_->size() - 1);
  }

  // sequence := unary ((AND | OR) unary)*, one kind of operator per level.
  std::optional<uint32_t> ParseSequence() {
    std::optional<uint32_t> first = ParseUnary();
    if (!first) return std::nullopt;
    std::vector<uint32_t> operands{*first};
    std::string op;
    SourceLocation op_location;
    while (const Token* token = Peek()) {
      if (token->kind == TokenKind::kClose) break;
      if (token->kind == TokenKind::kWord && (token->text == "AND" || token->text == "OR")) {
        if (op.empty()) {
          op = token->text;
          op_location = token->location;
        } else if (op != token->text) {
          Error(token->location,
                fmt::format("{} and {} are mixed at one level", op, token->text),
                fmt::format("add parentheses to say which goes first: (a {} b) {} c", op,
                            token->text));
          return std::nullopt;
        }
        ++position_;
        if (Peek() == nullptr || Peek()->kind == TokenKind::kClose) {
          Error(token->location, fmt::format("{} has nothing after it", token->text),
                "add a term after it, or remove it");
          return std::nullopt;
        }
        std::optional<uint32_t> next = ParseUnary();
        if (!next) return std::nullopt;
        operands.push_back(*next);
        continue;
      }
      std::string hint = "join them with AND or OR";
      if (token->kind == TokenKind::kWord) {
        if (token->text == "NOT") {
          hint = "write AND NOT";
        } else if (token->text == "and" || token->text == "or" || token->text == "not" ||
                   token->text.starts_with("near/")) {
          hint = "operators are written in capitals: AND, OR, NOT, NEAR/n";
        }
      }
      Error(token->location, fmt::format("there is no operator before '{}'", Describe(*token)),
            hint);
      return std::nullopt;
    }
    if (operands.size() == 1) return operands[0];
    QueryNode node;
    node.op = op == "AND" ? QueryOp::kAnd : QueryOp::kOr;
    node.children = std::move(operands);
    node.location = (*nodes_)[node.children[0]].location;
    return Add(std::move(node));
  }

  std::optional<uint32_t> ParseUnary() {
    const Token* token = Peek();
    if (token != nullptr && token->kind == TokenKind::kWord && token->text == "NOT") {
      SourceLocation location = token->location;
      Leave leave{depth_};
      if (!Enter(location)) return std::nullopt;
      ++position_;
      if (Peek() == nullptr || Peek()->kind == TokenKind::kClose) {
        Error(location, "NOT has nothing after it", "write NOT followed by a term");
        return std::nullopt;
      }
      std::optional<uint32_t> child = ParseUnary();
      if (!child) return std::nullopt;
      QueryNode node;
      node.op = QueryOp::kNot;
      node.children = {*child};
      node.location = location;
      return Add(std::move(node));
    }
    return ParseNear();
  }

  // A NEAR operand: a term, or an OR of terms (in parentheses).
  bool Positional(uint32_t index) const {
    const QueryNode& node = (*nodes_)[index];
    if (node.op == QueryOp::kTerm) return true;
    if (node.op != QueryOp::kOr) return false;
    return std::all_of(node.children.begin(), node.children.end(),
                       [&](uint32_t child) { return Positional(child); });
  }

  std::optional<uint32_t> ParseNear() {
    std::optional<uint32_t> left = ParsePrimary();
    if (!left) return std::nullopt;
    const Token* token = Peek();
    if (token == nullptr || token->kind != TokenKind::kWord || !IsNearWord(token->text)) {
      return left;
    }
    const SourceLocation location = token->location;
    std::string_view spec = std::string_view(token->text).substr(5);
    bool ordered = false;
    if (spec.ends_with("f")) {
      ordered = true;
      spec.remove_suffix(1);
    }
    uint32_t distance = 0;
    auto [end, error] = std::from_chars(spec.data(), spec.data() + spec.size(), distance);
    if (spec.empty() || error != std::errc() || end != spec.data() + spec.size()) {
      Error(location, fmt::format("'{}' is not a NEAR operator", token->text),
            "write NEAR/3 (within 3 words, either order) or NEAR/3f (left first)");
      return std::nullopt;
    }
    ++position_;
    if (Peek() == nullptr || Peek()->kind == TokenKind::kClose) {
      Error(location, "NEAR has nothing after it", "write a NEAR/3 b");
      return std::nullopt;
    }
    std::optional<uint32_t> right = ParsePrimary();
    if (!right) return std::nullopt;
    for (uint32_t operand : {*left, *right}) {
      if (!Positional(operand)) {
        Error((*nodes_)[operand].location,
              "a NEAR operand must be a term, a phrase or an OR of them",
              "move AND, NOT and fields out of the NEAR: (a NEAR/3 b) AND c");
        return std::nullopt;
      }
    }
    if (const Token* next = Peek();
        next != nullptr && next->kind == TokenKind::kWord && IsNearWord(next->text)) {
      Error(next->location, "NEAR cannot be chained",
            "join two NEARs with AND: (a NEAR/3 b) AND (b NEAR/3 c)");
      return std::nullopt;
    }
    QueryNode node;
    node.op = QueryOp::kNear;
    node.near_distance = distance;
    node.near_ordered = ordered;
    node.children = {*left, *right};
    node.location = (*nodes_)[*left].location;
    return Add(std::move(node));
  }

  std::optional<uint32_t> ParsePrimary() {
    const Token* token = Peek();
    if (token == nullptr) return std::nullopt;  // callers check before
    ++position_;
    switch (token->kind) {
      case TokenKind::kOpen: {
        Leave leave{depth_};
        if (!Enter(token->location)) return std::nullopt;
        if (Peek() != nullptr && Peek()->kind == TokenKind::kClose) {
          Error(token->location, "'()' is empty", "put terms inside or remove it");
          return std::nullopt;
        }
        if (Peek() == nullptr) {
          Error(token->location, "'(' has no matching ')'", "add a ')' to close it");
          return std::nullopt;
        }
        std::optional<uint32_t> inner = ParseSequence();
        if (!inner) return std::nullopt;
        if (Peek() == nullptr || Peek()->kind != TokenKind::kClose) {
          Error(token->location, "'(' has no matching ')'", "add a ')' to close it");
          return std::nullopt;
        }
        ++position_;
        return inner;
      }
      case TokenKind::kClose:
        Error(token->location, "')' has no matching '(', or a term is missing before it",
              "remove it or add a term");
        return std::nullopt;
      case TokenKind::kPhrase:
        return PhraseNode(*token);
      case TokenKind::kExact: {
        QueryNode node;
        node.text = token->text;
        node.match_case = QueryCase::kExact;
        node.location = token->location;
        return Add(std::move(node));
      }
      case TokenKind::kWord:
        return WordNode(*token);
    }
    return std::nullopt;
  }

  QueryNode TermNode(std::string text, const SourceLocation& location) {
    QueryNode node;
    node.match_case = HasAccent(text) ? QueryCase::kAccentExact : QueryCase::kLoose;
    node.text = std::move(text);
    node.location = location;
    return node;
  }

  std::optional<uint32_t> PhraseNode(const Token& token) {
    if (!token.proximity) return Add(TermNode(token.text, token.location));
    // "a b c"~n: each word within n words of the next one, in either order.
    std::vector<std::string> words;
    for (size_t begin = 0; begin <= token.text.size();) {
      size_t end = token.text.find(' ', begin);
      if (end == std::string::npos) end = token.text.size();
      if (end > begin) words.push_back(token.text.substr(begin, end - begin));
      begin = end + 1;
    }
    if (words.size() < 2) return Add(TermNode(token.text, token.location));
    for (const std::string& word : words) {
      // Each word becomes a term of its own, so it needs what a bare term needs ("telenor -
      // norge"~2: the '-' could never be found, and its canonical form would not parse).
      if (!HasMatchableCharacter(word)) {
        Error(token.location, fmt::format("the word '{}' of the phrase has nothing to find", word),
              "a word of a \"...\"~n phrase needs a letter, digit or emoji; remove it");
        return std::nullopt;
      }
    }
    std::vector<uint32_t> nears;
    uint32_t previous = Add(TermNode(words[0], token.location));
    for (size_t i = 1; i < words.size(); ++i) {
      uint32_t next = Add(TermNode(words[i], token.location));
      QueryNode near;
      near.op = QueryOp::kNear;
      near.near_distance = *token.proximity;
      near.children = {previous, next};
      near.location = token.location;
      nears.push_back(Add(std::move(near)));
      previous = next;
    }
    if (nears.size() == 1) return nears[0];
    QueryNode all;
    all.op = QueryOp::kAnd;
    all.children = std::move(nears);
    all.location = token.location;
    return Add(std::move(all));
  }

  std::optional<uint32_t> WordNode(const Token& token) {
    const std::string& word = token.text;
    if (IsOperatorWord(word)) {
      Error(token.location, fmt::format("{} needs a term before it", word),
            fmt::format("write a {} b", word));
      return std::nullopt;
    }
    const std::pair<std::string_view, QueryField> fields[] = {{"author:", QueryField::kAuthor},
                                                              {"lang:", QueryField::kLanguage},
                                                              {"reply:", QueryField::kReplyTo},
                                                              {"to:", QueryField::kReplyTo},
                                                              {"url:", QueryField::kUrl},
                                                              {"site:", QueryField::kSite}};
    for (const auto& [prefix, field] : fields) {
      if (!word.starts_with(prefix)) continue;
      std::string value = word.substr(prefix.size());
      const bool handle_field = field == QueryField::kAuthor || field == QueryField::kReplyTo;
      if (handle_field && value.starts_with("@")) value.erase(0, 1);
      if (field == QueryField::kSite) {
        std::string_view host = value;
        for (std::string_view scheme : {"https://", "http://"}) {
          if (host.starts_with(scheme)) host.remove_prefix(scheme.size());
        }
        if (host.starts_with("www.")) host.remove_prefix(4);
        while (host.ends_with("/")) host.remove_suffix(1);
        value = std::string(host);
      }
      if (value.empty()) {
        Error(token.location, fmt::format("'{}' needs a value", prefix),
              field == QueryField::kLanguage ? "write lang:no"
              : field == QueryField::kSite   ? "write site:telenor.no"
              : field == QueryField::kUrl    ? "write url:telenor.no/5g"
                                             : "write author:telenor_norge");
        return std::nullopt;
      }
      for (char& c : value) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
      QueryNode node;
      node.op = QueryOp::kField;
      node.field = field;
      node.text = std::move(value);
      node.location = token.location;
      return Add(std::move(node));
    }
    uint32_t registered = 0;
    if (const QueryFieldDefinition* field = FindRegisteredField(word, registered)) {
      std::string value = word.substr(field->name.size() + 1);
      for (char& c : value) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
      }
      if (value.empty() || (!field->values.empty() &&
                            std::find(field->values.begin(), field->values.end(), value) ==
                                field->values.end())) {
        std::string closest = ClosestMatch(value, field->values);
        std::string all = fmt::format("{}", fmt::join(field->values, ", "));
        Error(token.location,
              value.empty() ? fmt::format("'{}:' needs a value", field->name)
                            : fmt::format("'{}' is not a value of {}:", value, field->name),
              !closest.empty() ? fmt::format("did you mean {}:{}?", field->name, closest)
              : all.empty()    ? field->hint
                               : fmt::format("{}: takes {}", field->name, all));
        return std::nullopt;
      }
      QueryNode node;
      node.op = QueryOp::kField;
      node.field = QueryField::kRegistered;
      node.registered_field = registered;
      node.text = std::move(value);
      node.location = token.location;
      return Add(std::move(node));
    }
    std::string text = word;
    bool prefix = false;
    if (text.starts_with("*")) {
      Error(token.location, fmt::format("'{}' starts with a wildcard", word),
            "a wildcard may only end a term: telen*");
      return std::nullopt;
    }
    if (text.ends_with("*")) {
      prefix = true;
      text.pop_back();
    }
    if (size_t star = text.find('*'); star != std::string::npos) {
      SourceLocation location = token.location;
      location.column += static_cast<int>(star);
      Error(location, fmt::format("'{}' has a wildcard inside", word),
            "a '*' may only end a term: telen*");
      return std::nullopt;
    }
    const bool single_wildcards = text.find('?') != std::string::npos;
    if (single_wildcards) {
      // The longest run without '?' is what the scan looks for; it needs some substance.
      size_t longest = 0;
      for (size_t begin = 0; begin <= text.size();) {
        size_t end = text.find('?', begin);
        if (end == std::string::npos) end = text.size();
        longest = std::max(longest, end - begin);
        begin = end + 1;
      }
      if (longest < 2) {
        Error(token.location, fmt::format("'{}' has too few fixed characters", word),
              "keep at least two characters in a row without '?', e.g. te?m");
        return std::nullopt;
      }
      if (HasAccent(text)) {
        Error(token.location, fmt::format("'{}': a term with '?' cannot have accents", word),
              "write it without accents: it then finds accented text too");
        return std::nullopt;
      }
    }
    if (!IsValidUtf8(text)) {
      Error(token.location, fmt::format("'{}' is not valid UTF-8", word),
            "save the watchlist as UTF-8");
      return std::nullopt;
    }
    if (!HasMatchableCharacter(text)) {
      Error(token.location, fmt::format("'{}' has nothing to find", word),
            "a term needs a letter, digit or emoji");
      return std::nullopt;
    }
    if (prefix && text.size() < 3) {
      Error(token.location, fmt::format("'{}' is too short for a wildcard", word),
            "give at least three characters before '*', e.g. tel*");
      return std::nullopt;
    }
    QueryNode node = TermNode(std::move(text), token.location);
    node.prefix = prefix;
    node.single_wildcards = single_wildcards;
    return Add(std::move(node));
  }

  std::string_view text_;
  SourceLocation start_;
  int indent_;
  Diagnostics& diagnostics_;
  std::vector<Token> tokens_;
  size_t position_ = 0;
  std::vector<QueryNode>* nodes_ = nullptr;
  size_t depth_ = 0;  // levels of nesting being parsed
  int64_t open_parentheses_ = 0;  // while tokenizing
  struct Cursor {
    size_t offset = 0;
    int line = 0;     // lines after start_.line
    int columns = 0;  // characters since the line's start
  } cursor_;
};

}  // namespace

std::optional<Query> ParseQuery(std::string_view text, const SourceLocation& start, int indent,
                                Diagnostics& diagnostics) {
  return Parser(text, start, indent, diagnostics).Parse();
}

std::string FormatQueryNode(const Query& query, uint32_t index) {
  const QueryNode& node = query.nodes[index];
  switch (node.op) {
    case QueryOp::kTerm: {
      // Quoted when bare it would read as something else (make fuzz): several words, an
      // operator (a phrase "NEAR/or norge" holds the word NEAR/or) or a field, a character the
      // tokenizer stops at (a "..."~n phrase "telenor AND (dekning"~3 holds the word
      // "(dekning"), a '*' or '?' that is not its wildcard (a quoted "tel*"), or a leading "//"
      // that would start a comment. A prefix term comes from a bare word, cannot be quoted, and
      // reads back as a term anyway.
      std::string_view bare = node.text;
      const bool reads_as_syntax = bare == "AND" || bare == "OR" || bare == "NOT" ||
                                   bare.starts_with("NEAR/") ||
                                   bare.find(':') != std::string_view::npos;
      const bool breaks_a_bare_word =
          bare.find_first_of(" ()\"{}") != std::string_view::npos || bare.starts_with("//") ||
          (!node.single_wildcards && bare.find_first_of("*?") != std::string_view::npos);
      const bool quote = !node.prefix && (breaks_a_bare_word || reads_as_syntax);
      std::string text = node.match_case == QueryCase::kExact ? fmt::format("{{{}}}", node.text)
                         : quote ? fmt::format("\"{}\"", node.text)
                                 : node.text;
      if (!node.prefix) return text;
      // A prefix term cannot be quoted; one that starts with "//" (written after a '(') would
      // read as a comment after a space, so it keeps a '(' before it.
      return bare.starts_with("//") ? fmt::format("({}*)", text) : text + "*";
    }
    case QueryOp::kField: {
      if (node.field == QueryField::kRegistered) {
        return fmt::format("{}:{}", RegisteredQueryField(node.registered_field).name, node.text);
      }
      std::string_view name = node.field == QueryField::kAuthor     ? "author:"
                              : node.field == QueryField::kLanguage ? "lang:"
                              : node.field == QueryField::kUrl      ? "url:"
                              : node.field == QueryField::kSite     ? "site:"
                                                                    : "reply:";
      return fmt::format("{}{}", name, node.text);
    }
    case QueryOp::kNot:
      return fmt::format("NOT {}", FormatQueryNode(query, node.children[0]));
    case QueryOp::kNear:
      return fmt::format("{} NEAR/{}{} {}", FormatQueryNode(query, node.children[0]),
                         node.near_distance, node.near_ordered ? "f" : "",
                         FormatQueryNode(query, node.children[1]));
    case QueryOp::kAnd:
    case QueryOp::kOr: {
      std::string out = "(";
      for (size_t i = 0; i < node.children.size(); ++i) {
        if (i > 0) out += node.op == QueryOp::kAnd ? " AND " : " OR ";
        out += FormatQueryNode(query, node.children[i]);
      }
      return out + ")";
    }
  }
  return {};
}

void RegisterQueryField(QueryFieldDefinition definition) {
  Fields().AddUnless([&](const QueryFieldDefinition& field) { return field.name == definition.name; },
                     [&](size_t) { return std::move(definition); });
}

const QueryFieldDefinition& RegisteredQueryField(uint32_t index) { return Fields()[index]; }

}  // namespace brandpulse
