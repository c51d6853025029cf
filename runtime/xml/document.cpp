#include "runtime/xml/document.hpp"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>

namespace pcloud::runtime::xml {

namespace {

const xmlChar* u(const std::string& x) {
  return reinterpret_cast<const xmlChar*>(x.c_str());
}

std::string s(const xmlChar* x) {
  return x == nullptr ? std::string{} : reinterpret_cast<const char*>(x);
}

/// Collects libxml2's messages for one parse instead of printing them.
void collect_error(void* ctx, xmlErrorPtr err) {
  auto* out = static_cast<std::string*>(ctx);
  if (out->empty() && err != nullptr && err->message != nullptr) {
    *out = "line " + std::to_string(err->line) + ": " + err->message;
    while (!out->empty() && (out->back() == '\n' || out->back() == ' ')) {
      out->pop_back();
    }
  }
}

} // namespace

void document::free_doc::operator()(_xmlDoc* doc) const noexcept {
  xmlFreeDoc(doc);
}

document::document(const std::string& root_name) : doc_(xmlNewDoc(u("1.0"))) {
  auto* root = xmlNewNode(nullptr, u(root_name));
  xmlDocSetRootElement(doc_.get(), root);
}

result<document> document::parse(const std::string& text,
                                 const std::string& origin) {
  std::string error;
  auto* ctx = xmlNewParserCtxt();
  if (ctx == nullptr) {
    return fail(origin + ": out of memory");
  }
  xmlSetStructuredErrorFunc(&error, collect_error);
  auto* doc = xmlCtxtReadMemory(ctx, text.data(), static_cast<int>(text.size()),
                                origin.c_str(), nullptr, XML_PARSE_NONET);
  xmlSetStructuredErrorFunc(nullptr, nullptr);
  xmlFreeParserCtxt(ctx);
  if (doc == nullptr) {
    return fail(origin + ": " + (error.empty() ? "not XML" : error));
  }
  return document{doc};
}

node document::root() {
  return node{xmlDocGetRootElement(doc_.get())};
}

const node document::root() const {
  return node{xmlDocGetRootElement(doc_.get())};
}

std::string document::to_string() const {
  xmlBufferPtr buf = xmlBufferCreate();
  auto* save
    = xmlSaveToBuffer(buf, "UTF-8", XML_SAVE_FORMAT | XML_SAVE_NO_DECL);
  xmlSaveDoc(save, doc_.get());
  xmlSaveClose(save);
  std::string result{reinterpret_cast<const char*>(xmlBufferContent(buf)),
                     static_cast<size_t>(xmlBufferLength(buf))};
  xmlBufferFree(buf);
  return result;
}

node node::child(const std::string& name, const std::string& text) {
  auto* n
    = xmlNewTextChild(ptr_, nullptr, u(name), text.empty() ? nullptr : u(text));
  return node{n};
}

node node::child_ns(const std::string& href, const std::string& prefix,
                    const std::string& name) {
  auto* n = xmlNewChild(ptr_, nullptr, u(name), nullptr);
  auto* ns = xmlNewNs(n, u(href), u(prefix));
  xmlSetNs(n, ns);
  return node{n};
}

node node::child_in_namespace(const std::string& name) {
  return node{xmlNewChild(ptr_, ptr_->ns, u(name), nullptr)};
}

node& node::attr(const std::string& name, const std::string& value) {
  xmlSetProp(ptr_, u(name), u(value));
  return *this;
}

std::unique_ptr<node> node::find(const std::string& name) const {
  for (auto* c = ptr_->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && s(c->name) == name) {
      return std::unique_ptr<node>{new node{c}};
    }
  }
  return nullptr;
}

std::vector<node> node::find_all(const std::string& name) const {
  std::vector<node> result;
  for (auto* c = ptr_->children; c != nullptr; c = c->next) {
    if (c->type == XML_ELEMENT_NODE && s(c->name) == name) {
      result.push_back(node{c});
    }
  }
  return result;
}

long node::line() const {
  return xmlGetLineNo(ptr_);
}

std::string node::name() const {
  return s(ptr_->name);
}

std::string node::text() const {
  auto* content = xmlNodeGetContent(ptr_);
  auto result = s(content);
  xmlFree(content);
  return result;
}

std::string node::attribute(const std::string& name) const {
  auto* value = xmlGetProp(ptr_, u(name));
  auto result = s(value);
  xmlFree(value);
  return result;
}

bool node::has_attribute(const std::string& name) const {
  return xmlHasProp(ptr_, u(name)) != nullptr;
}

} // namespace pcloud::runtime::xml
