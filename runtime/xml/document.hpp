// RAII over libxml2 documents: build a tree with the tree API, serialize it,
// parse text with errors reported as values. No raw libxml2 pointer leaves
// runtime/xml.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "runtime/result.hpp"

struct _xmlDoc;
struct _xmlNode;

namespace pcloud::runtime::xml {

class document;

/// A node inside a document; valid as long as its document lives.
class node {
public:
  /// Appends <name>text</name> (no text: an empty element).
  node child(const std::string& name, const std::string& text = {});
  /// Appends <name> in the namespace `href` with the given prefix.
  node child_ns(const std::string& href, const std::string& prefix,
                const std::string& name);
  /// Appends an empty element in this element's namespace.
  node child_in_namespace(const std::string& name);
  node& attr(const std::string& name, const std::string& value);

  /// The first child element called `name`, if any.
  std::unique_ptr<node> find(const std::string& name) const;
  /// All child elements called `name`.
  std::vector<node> find_all(const std::string& name) const;
  std::string name() const;
  std::string text() const;
  /// The attribute's value, or empty when absent.
  std::string attribute(const std::string& name) const;
  bool has_attribute(const std::string& name) const;

  /// The line the element started on in the parsed text.
  long line() const;

private:
  friend class document;
  explicit node(_xmlNode* ptr) : ptr_(ptr) {
    // nop
  }
  _xmlNode* ptr_;
};

class document {
public:
  /// A new document whose root element is `root_name`.
  explicit document(const std::string& root_name);

  /// Parses `text`; `origin` names it in error messages ("assy1.xml").
  static result<document> parse(const std::string& text,
                                const std::string& origin);

  node root();
  const node root() const;

  /// Indented UTF-8 text without the XML declaration.
  std::string to_string() const;

  /// The libxml2 document, for the other wrappers of runtime/xml only.
  _xmlDoc* get() const noexcept { return doc_.get(); }

private:
  struct free_doc {
    void operator()(_xmlDoc* doc) const noexcept;
  };
  explicit document(_xmlDoc* doc) : doc_(doc) {
    // nop
  }
  std::unique_ptr<_xmlDoc, free_doc> doc_;
};

} // namespace pcloud::runtime::xml
