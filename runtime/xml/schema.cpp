#include "runtime/xml/schema.hpp"

#include <libxml/relaxng.h>
#include <libxml/tree.h>

namespace pcloud::runtime::xml {

namespace {

void collect_first(void* ctx, xmlErrorPtr err) {
  auto* out = static_cast<std::string*>(ctx);
  if (out->empty() && err != nullptr && err->message != nullptr) {
    // The node's own line: err->line can be a neighbour's.
    auto line = err->node != nullptr
                  ? xmlGetLineNo(static_cast<xmlNodePtr>(err->node))
                  : err->line;
    *out = "line " + std::to_string(line) + ": " + err->message;
    while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) {
      out->pop_back();
    }
  }
}

} // namespace

void schema::free_schema::operator()(_xmlRelaxNG* ptr) const noexcept {
  xmlRelaxNGFree(ptr);
}

result<schema> schema::load(const std::string& path) {
  std::string error;
  auto* parser = xmlRelaxNGNewParserCtxt(path.c_str());
  if (parser == nullptr) {
    return fail(path + ": out of memory");
  }
  xmlRelaxNGSetParserStructuredErrors(parser, collect_first, &error);
  auto* parsed = xmlRelaxNGParse(parser);
  xmlRelaxNGFreeParserCtxt(parser);
  if (parsed == nullptr) {
    return fail(path + ": not a usable RelaxNG schema"
                + (error.empty() ? "" : ": " + error));
  }
  schema result;
  // libxml2 keeps the type opaque: only the deleter form takes it.
  result.ptr_ = std::shared_ptr<_xmlRelaxNG>(parsed, free_schema{});
  return result;
}

result<void> schema::validate(const document& doc,
                              const std::string& origin) const {
  std::string error;
  auto* ctx = xmlRelaxNGNewValidCtxt(ptr_.get());
  if (ctx == nullptr) {
    return fail(origin + ": out of memory");
  }
  xmlRelaxNGSetValidStructuredErrors(ctx, collect_first, &error);
  auto rc = xmlRelaxNGValidateDoc(ctx, doc.get());
  xmlRelaxNGFreeValidCtxt(ctx);
  if (rc != 0) {
    return fail(origin + ": "
                + (error.empty() ? "does not match its schema" : error));
  }
  return {};
}

} // namespace pcloud::runtime::xml
