// RAII over libxml2's RelaxNG schemas: load one from conf/, check documents
// against it with errors that name the file and line.
#pragma once

#include <memory>
#include <string>

#include "runtime/result.hpp"
#include "runtime/xml/document.hpp"

struct _xmlRelaxNG;

namespace pcloud::runtime::xml {

class schema {
public:
  /// Loads a RelaxNG schema (XML syntax) from `path`.
  static result<schema> load(const std::string& path);

  /// Checks `doc`; the error reads "ORIGIN: line N: what is wrong".
  result<void> validate(const document& doc, const std::string& origin) const;

private:
  struct free_schema {
    void operator()(_xmlRelaxNG* ptr) const noexcept;
  };

  schema() = default;

  std::shared_ptr<_xmlRelaxNG> ptr_;
};

} // namespace pcloud::runtime::xml
