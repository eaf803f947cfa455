//! Loading an estate: the named files, the files they import, and the GPU catalogs. Reading
//! goes through [`FileSystem`], so the library does no IO of its own (the CLI passes the real
//! file system; tests pass a map).

use crate::catalog::{self, Catalog};
use crate::diagnostics::{Code, Diagnostic, Diagnostics};
use crate::model::lower::VmDraft;
use crate::source::{SourceKind, Sources, Span};
use crate::syntax::{self, ast};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// Read access to source files.
pub trait FileSystem {
    fn read(&self, path: &Path) -> std::io::Result<String>;

    /// The file's bytes, which the loader decodes itself so that a file that is not UTF-8 is
    /// a diagnostic at its first invalid byte. A file system that can hold such files (the
    /// disk) overrides this; the default serves [`FileSystem::read`].
    fn read_bytes(&self, path: &Path) -> std::io::Result<Vec<u8>> {
        self.read(path).map(String::into_bytes)
    }

    /// The file's size, when it is known before reading: the loader then prepares for a large
    /// estate ([`crate::LargeEstate`]) before the read that makes it one, so that the read
    /// itself is done the large estate's way.
    fn size(&self, _path: &Path) -> Option<u64> {
        None
    }
}

/// Imports nest at most this deep (a chain of files, each importing the next).
pub const MAX_IMPORT_DEPTH: usize = 64;

/// The largest file read: three times a 100,000-host estate in one file (173 MB). Larger
/// ones are refused rather than read into memory.
pub const MAX_FILE_BYTES: usize = 512 << 20;

/// Refuses a file of `bytes` over [`MAX_FILE_BYTES`]; file systems call it with the size on
/// disk before reading.
pub fn refuse_oversized(bytes: u64) -> std::io::Result<()> {
    if bytes > MAX_FILE_BYTES as u64 {
        return Err(std::io::Error::other(format!("the file is larger than {} MiB and was not read", MAX_FILE_BYTES >> 20)));
    }
    Ok(())
}

/// Reads `path` through `fs`, refusing files over [`MAX_FILE_BYTES`].
fn read_limited(fs: &dyn FileSystem, path: &Path) -> std::io::Result<Vec<u8>> {
    let text = fs.read_bytes(path)?;
    refuse_oversized(text.len() as u64)?;
    Ok(text)
}

/// A root file (named by the user) that cannot be read: a usage/IO error, not a spec error.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path}: {source}")]
pub struct RootUnreadable {
    pub path: String,
    #[source]
    pub source: std::io::Error,
}

/// Keeps the texts of an estate's files alive while their syntax trees borrow them: the
/// trees hold slices of the text instead of copies of every name.
#[derive(Default)]
pub struct Texts(typed_arena::Arena<Arc<String>>);

impl Texts {
    fn keep(&self, text: Arc<String>) -> &str {
        self.0.alloc(text).as_str()
    }
}

pub struct Loaded<'s> {
    /// The trees of the files, with what parsed of those that have syntax errors. A file whose
    /// entities went to the stream has none of them here (see [`Loaded::whole_trees`]).
    pub files: Vec<ast::File<'s>>,
    /// The built-in boards, then the catalogs from the command line and `catalog` statements;
    /// `None` when the stream took every entity and no catalog came: the built-in one.
    catalog: Option<Catalog>,
    /// Every syntax error, kept apart from the other diagnostics of loading: unlike a missing
    /// import or catalog, they leave the estate whole enough to check the rest of it.
    pub syntax_errors: Vec<Diagnostic>,
    /// Every entity went to the stream, and the stream took them all: its lowering is the
    /// estate's, unless that lowering itself gave up.
    pub streamed_whole: bool,
    /// The text of each file in `files`, to parse again a file whose entities were streamed.
    texts: Vec<&'s str>,
    /// Per file in `files`: some of its entities went to the stream.
    streamed: Vec<bool>,
}

impl Loaded<'_> {
    /// Parses again each file whose entities went to the stream, so that every tree is whole
    /// for lowering the whole trees (the syntax errors are those already reported).
    pub fn whole_trees(&mut self) {
        for ((file, text), streamed) in self.files.iter_mut().zip(&self.texts).zip(&self.streamed) {
            if *streamed {
                *file = syntax::parse(file.file, text).0;
            }
        }
    }
}

/// What the loader sends to the lowering of a stream, in file order.
pub(crate) enum Streamed<'s> {
    Entities(Vec<ParsedEntity<'s>>),
    /// A file about to be parsed: the lowering counts the hosts and VMs it declares (while it
    /// waits for the first entities), so that their lists are allocated once: a VM is 400
    /// bytes, and a list grown by doubling is copied and may leave half of itself unused.
    File(&'s str),
}

/// An entity as parsed, with its span when a syntax error is inside it and, for a VM, what
/// its body says, read on the parser's thread (lowering is the busier of the two).
pub(crate) struct ParsedEntity<'s> {
    pub entity: ast::Entity<'s>,
    pub damaged: Option<Span>,
    pub vm: Option<VmDraft<'s>>,
}

/// Where the loader sends entities as it parses them, for lowering on another thread, and
/// gets them back, lowered, to free them.
pub struct Stream<'s> {
    pub(crate) sender: std::sync::mpsc::SyncSender<Streamed<'s>>,
    pub(crate) spent: std::sync::mpsc::Receiver<Vec<ParsedEntity<'s>>>,
}

/// Entities sent at once: few enough that the trees in flight stay small, enough that the
/// channel is not the cost.
const BATCH: usize = 512;

/// The catalog entities are lowered against while they are parsed: the built-in one, when
/// no catalog comes from the command line (a `catalog` statement in a file ends the stream).
pub fn streaming_catalog(catalogs: &[PathBuf]) -> Option<Catalog> {
    catalogs.is_empty().then(builtin_catalog).flatten()
}

/// A copy of the built-in catalog, unless its boards have problems.
fn builtin_catalog() -> Option<Catalog> {
    Catalog::builtin(BUILTIN_CATALOG).as_ref().ok().cloned()
}

impl Loaded<'_> {
    /// The catalog to lower the trees against.
    pub fn catalog(&mut self) -> Catalog {
        self.catalog.take().or_else(builtin_catalog).unwrap_or_default()
    }
}

/// The built-in catalog is always file 0, so its parsed form can be shared between runs.
const BUILTIN_CATALOG: crate::source::FileId = crate::source::FileId(0);

/// Reads and parses `roots` and their imports, then builds the catalog from the built-in
/// boards, `catalogs` (from the command line) and `catalog` statements, in that order.
/// With a `stream`, the entities are sent to it as they are parsed instead of kept in the
/// trees, until a `catalog` statement or the receiver's end stops the stream.
#[allow(clippy::too_many_arguments)]
pub fn load<'s>(
    roots: &[PathBuf],
    catalogs: &[PathBuf],
    large_estate: Option<crate::LargeEstate>,
    fs: &dyn FileSystem,
    texts: &'s Texts,
    sources: &mut Sources,
    diags: &mut Diagnostics,
    stream: Option<Stream<'s>>,
) -> Result<Loaded<'s>, RootUnreadable> {
    let builtin_id = sources.add(catalog::BUILTIN_NAME, catalog::BUILTIN_YAML, SourceKind::Catalog);
    debug_assert_eq!(builtin_id, BUILTIN_CATALOG);
    let mut loader = Loader {
        fs,
        texts,
        sources,
        diags,
        files: Vec::new(),
        texts_of: Vec::new(),
        streamed: Vec::new(),
        syntax_errors: Vec::new(),
        loaded: Vec::new(),
        stack: Vec::new(),
        large_estate,
        bytes_read: 0,
        streamed_whole: stream.is_some(),
        stream,
        batch: Vec::new(),
    };
    for root in roots {
        let text = loader.read(root).map_err(|source| RootUnreadable { path: root.display().to_string(), source })?;
        loader.add(&normalize(root), text, None);
    }
    loader.flush();
    // The stream ends here: its receiver lowers what it has and returns.
    loader.stream = None;
    if loader.streamed_whole {
        // The stream's lowering has the built-in boards, and no other catalog came (one would
        // have ended the stream): no second copy.
        return Ok(loader.finish(None));
    }
    let mut catalog = match Catalog::builtin(builtin_id) {
        Ok(c) => c.clone(),
        Err(problems) => {
            loader.diags.extend(problems.iter().cloned());
            Catalog::default()
        }
    };
    let mut extra: Vec<(PathBuf, Option<Span>)> = catalogs.iter().map(|p| (p.clone(), None)).collect();
    for file in &loader.files {
        for item in &file.items {
            if let ast::Item::Catalog(path) = item {
                extra.push((resolve(&loader.path_of(file.file), &path.value), Some(path.span)));
            }
        }
    }
    for (path, span) in extra {
        let text = match read_limited(fs, &path).and_then(|bytes| String::from_utf8(bytes).map_err(std::io::Error::other)) {
            Ok(t) => t,
            Err(source) => match span {
                Some(span) => {
                    loader.diags.push(unreadable(span, &path, &source));
                    continue;
                }
                None => return Err(RootUnreadable { path: path.display().to_string(), source }),
            },
        };
        let id = loader.sources.add(path.display().to_string(), text, SourceKind::Catalog);
        let text = loader.sources.get(id).map(|f| f.text.clone()).unwrap_or_default();
        match catalog::parse_boards(id, &text) {
            Ok(boards) => loader.diags.extend(catalog.extend(boards)),
            Err(problems) => loader.diags.extend(problems),
        }
    }
    Ok(loader.finish(Some(catalog)))
}

struct Loader<'a, 's> {
    fs: &'a dyn FileSystem,
    texts: &'s Texts,
    sources: &'a mut Sources,
    diags: &'a mut Diagnostics,
    files: Vec<ast::File<'s>>,
    /// The text of each of `files`.
    texts_of: Vec<&'s str>,
    /// Per file of `files`: some of its entities went to the stream.
    streamed: Vec<bool>,
    syntax_errors: Vec<Diagnostic>,
    /// Paths already loaded, by `FileId` order of the spec files.
    loaded: Vec<(PathBuf, crate::source::FileId)>,
    /// The chain of files being loaded, for cycle detection: (path, the import's span).
    stack: Vec<(PathBuf, Option<Span>)>,
    /// Made (and then dropped) once `bytes_read` reaches its size.
    large_estate: Option<crate::LargeEstate>,
    bytes_read: u64,
    /// Where entities go while the stream lasts.
    stream: Option<Stream<'s>>,
    /// Entities parsed and not yet sent.
    batch: Vec<ParsedEntity<'s>>,
    /// No entity was kept from the stream.
    streamed_whole: bool,
}

impl<'s> Loader<'_, 's> {
    fn path_of(&self, id: crate::source::FileId) -> PathBuf {
        self.loaded.iter().find(|(_, f)| *f == id).map(|(p, _)| p.clone()).unwrap_or_default()
    }

    fn add(&mut self, path: &Path, bytes: Vec<u8>, via: Option<Span>) {
        if self.loaded.iter().any(|(p, _)| p == path) {
            return;
        }
        self.bytes_read += bytes.len() as u64;
        self.prepare_if_large(self.bytes_read);
        // A file that is not UTF-8 is parsed with U+FFFD in place of each invalid sequence:
        // one diagnostic at the first, and the rest of the file is still checked.
        let (text, first_invalid) = decode(bytes);
        let id = self.sources.add(path.display().to_string(), text, SourceKind::Spec);
        self.loaded.push((path.to_path_buf(), id));
        let Some(text) = self.sources.get(id).map(|f| self.texts.keep(f.text.clone())) else { return };
        let (file, mut errors) = self.parse(id, text);
        if let Some(at) = first_invalid {
            // What the parser found at a replacement character is this same fault again.
            errors.retain(|d| !text.get(d.primary.span.range()).is_some_and(|t| t.contains(char::REPLACEMENT_CHARACTER)));
            errors.push(not_utf8(id, at));
        }
        self.syntax_errors.extend(errors);
        let imports: Vec<ast::StringLit<'s>> =
            file.items.iter().filter_map(|i| if let ast::Item::Import(s) = i { Some(s.clone()) } else { None }).collect();
        self.files.push(file);
        self.stack.push((path.to_path_buf(), via));
        for import in imports {
            self.import(path, &import);
        }
        self.stack.pop();
    }

    /// Makes the large estate's preparation once `bytes` of spec reach its size.
    fn prepare_if_large(&mut self, bytes: u64) {
        if let Some(large) = self.large_estate.filter(|large| bytes >= large.bytes) {
            (large.prepare)();
            self.large_estate = None;
        }
    }

    /// Reads a spec file, preparing for a large estate first when its size makes one.
    fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        if let Some(size) = self.fs.size(path) {
            self.prepare_if_large(self.bytes_read + size);
        }
        read_limited(self.fs, path)
    }

    fn finish(self, catalog: Option<Catalog>) -> Loaded<'s> {
        Loaded {
            files: self.files,
            catalog,
            syntax_errors: self.syntax_errors,
            streamed_whole: self.streamed_whole,
            texts: self.texts_of,
            streamed: self.streamed,
        }
    }

    /// Parses a file: into its tree, or, while the stream lasts, sending its entities.
    fn parse(&mut self, id: crate::source::FileId, text: &'s str) -> (ast::File<'s>, Vec<Diagnostic>) {
        self.texts_of.push(text);
        let Some(stream) = &self.stream else {
            self.streamed.push(false);
            return syntax::parse(id, text);
        };
        if stream.sender.send(Streamed::File(text)).is_err() {
            self.stream_ended();
            self.streamed.push(false);
            return syntax::parse(id, text);
        }
        self.streamed.push(true);
        let mut kept = Vec::new();
        let (file, errors) = syntax::parse_each(id, text, &mut |item, damaged| match item {
            ast::Item::Entity(entity) if self.stream.is_some() => {
                let vm = (entity.kind == ast::EntityKind::Vm).then(|| VmDraft::read(&entity));
                self.batch.push(ParsedEntity { entity, damaged, vm });
                if self.batch.len() == BATCH {
                    self.flush();
                }
            }
            ast::Item::Catalog(_) => {
                // The catalog changes: what was lowered against the built-in one may not hold.
                self.stream_ended();
                kept.push(item);
            }
            item => kept.push(item),
        });
        (ast::File { items: kept, ..file }, errors)
    }

    /// Sends the entities parsed so far.
    fn flush(&mut self) {
        let Some(stream) = &self.stream else { return };
        // Frees what was lowered since the last batch.
        while stream.spent.try_recv().is_ok() {}
        if !self.batch.is_empty() && stream.sender.send(Streamed::Entities(std::mem::take(&mut self.batch))).is_err() {
            self.stream_ended();
        }
    }

    /// The stream ends before the estate does: from here on entities stay in their trees,
    /// and the files that sent some are parsed again (see [`Loaded::whole_trees`]).
    fn stream_ended(&mut self) {
        self.stream = None;
        self.batch.clear();
        self.streamed_whole = false;
    }

    fn import(&mut self, from: &Path, import: &ast::StringLit) {
        let target = resolve(from, &import.value);
        if let Some(pos) = self.stack.iter().position(|(p, _)| *p == target) {
            let chain: Vec<String> =
                self.stack[pos..].iter().map(|(p, _)| p.display().to_string()).chain([target.display().to_string()]).collect();
            let mut d = Diagnostic::new(
                Code::ImportCycle,
                format!("files import each other in a loop: {}", chain.join(" -> ")),
                import.span,
                "closes the loop",
            )
            .with_help("remove one of these imports; a file may be imported by many files, but not by itself through others");
            for (_, via) in self.stack[pos + 1..].iter() {
                if let Some(span) = via {
                    d = d.with_label(*span, "imported here");
                }
            }
            self.diags.push(d);
            return;
        }
        if self.stack.len() >= MAX_IMPORT_DEPTH {
            self.diags.push(
                Diagnostic::new(
                    Code::ImportUnreadable,
                    format!("imports nest more than {MAX_IMPORT_DEPTH} files deep"),
                    import.span,
                    "too deep",
                )
                .with_help("import the files from one top-level file instead of chaining them"),
            );
            return;
        }
        match self.read(&target) {
            Ok(text) => self.add(&target, text, Some(import.span)),
            Err(e) => self.diags.push(unreadable(import.span, &target, &e)),
        }
    }
}

/// The text of a file, and the offset of its first byte that is not UTF-8, if any (each
/// invalid sequence then reads as U+FFFD: the offsets before the first stay the same).
pub fn decode(bytes: Vec<u8>) -> (String, Option<usize>) {
    match String::from_utf8(bytes) {
        Ok(text) => (text, None),
        Err(error) => {
            let at = error.utf8_error().valid_up_to();
            (String::from_utf8_lossy(error.as_bytes()).into_owned(), Some(at))
        }
    }
}

/// The diagnostic of a file that is not UTF-8, at the replacement of its first invalid byte.
pub fn not_utf8(file: crate::source::FileId, first_invalid: usize) -> Diagnostic {
    let span = Span::new(file, first_invalid, first_invalid + char::REPLACEMENT_CHARACTER.len_utf8());
    Diagnostic::new(Code::Syntax, "the file is not valid UTF-8", span, "the first byte that is not UTF-8")
        .with_help("save the file as UTF-8; .gpu files are text, and only strings and comments may hold characters beyond ASCII")
}

fn unreadable(span: Span, path: &Path, error: &std::io::Error) -> Diagnostic {
    Diagnostic::new(Code::ImportUnreadable, format!("cannot read `{}`: {error}", path.display()), span, "cannot be read")
        .with_help("paths are relative to the file that names them; check the name and that the file exists")
}

/// `target` relative to the directory of `from`, normalized without touching the disk.
fn resolve(from: &Path, target: &str) -> PathBuf {
    let target = Path::new(target);
    let joined = if target.is_absolute() { target.to_path_buf() } else { from.parent().unwrap_or(Path::new("")).join(target) };
    normalize(&joined)
}

/// Removes `.` and folds `dir/..`, so one file has one name.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{check, Input, LargeEstate};
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A root file of 40 bytes importing one of 400.
    struct TwoFiles;

    impl super::FileSystem for TwoFiles {
        fn read(&self, path: &Path) -> std::io::Result<String> {
            Ok(match path.file_name().and_then(|n| n.to_str()) {
                Some("root.gpu") => format!("import \"rack.gpu\"\n{}\n", "#".repeat(21)),
                _ => format!("{}\n", "#".repeat(399)),
            })
        }
    }

    static PREPARED: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_large_estate_is_prepared_for_once_its_files_with_imports_pass_the_size() {
        let prepare = || {
            PREPARED.fetch_add(1, Ordering::SeqCst);
        };
        let run = |bytes| {
            PREPARED.store(0, Ordering::SeqCst);
            let input = Input { files: vec!["root.gpu".into()], large_estate: Some(LargeEstate { bytes, prepare }), ..Default::default() };
            check(&input, &TwoFiles).expect("in memory");
            PREPARED.load(Ordering::SeqCst)
        };
        assert_eq!(run(40), 1, "the root alone reaches 40 bytes");
        assert_eq!(run(41), 1, "only with its import does it reach 41");
        assert_eq!(run(440), 1, "the root and its import reach 440 bytes, once");
        assert_eq!(run(441), 0, "441 bytes are never read");
    }

    /// [`TwoFiles`] with its sizes known before reading, as on disk; records how many
    /// preparations were made when the import was read.
    struct TwoFilesOnDisk;

    static PREPARED_AT_IMPORT: AtomicUsize = AtomicUsize::new(usize::MAX);

    impl super::FileSystem for TwoFilesOnDisk {
        fn read(&self, path: &Path) -> std::io::Result<String> {
            if path.ends_with("rack.gpu") {
                PREPARED_AT_IMPORT.store(PREPARED_ON_DISK.load(Ordering::SeqCst), Ordering::SeqCst);
            }
            TwoFiles.read(path)
        }

        fn size(&self, path: &Path) -> Option<u64> {
            TwoFiles.read(path).ok().map(|text| text.len() as u64)
        }
    }

    static PREPARED_ON_DISK: AtomicUsize = AtomicUsize::new(0);

    #[test]
    fn a_file_whose_size_makes_a_large_estate_is_read_after_the_preparation() {
        let prepare = || {
            PREPARED_ON_DISK.fetch_add(1, Ordering::SeqCst);
        };
        let input = Input { files: vec!["root.gpu".into()], large_estate: Some(LargeEstate { bytes: 440, prepare }), ..Default::default() };
        check(&input, &TwoFilesOnDisk).expect("in memory");
        assert_eq!(PREPARED_ON_DISK.load(Ordering::SeqCst), 1);
        assert_eq!(PREPARED_AT_IMPORT.load(Ordering::SeqCst), 1, "prepared before the import that reaches 440 bytes was read");
    }
}
