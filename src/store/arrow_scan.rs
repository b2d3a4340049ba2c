//! store::arrow_scan: the `arrow_batch(token)` table function, which hands an Arrow
//! `RecordBatch` to DuckDB through DuckDB's own Arrow reader (`duckdb_data_chunk_from_arrow`).
//!
//! Why not duckdb-rs's `arrow` table function: it copies every value into DuckDB's vectors
//! through the C API, one string at a time and UTF-8-validated (`AddStringOrBlob`,
//! `Utf8Proc::Analyze`), which was the largest single cost of the writer thread (about 2.4 s
//! per million events). DuckDB's Arrow reader points its string vectors at the Arrow buffers
//! instead (zero copy, the batch is kept alive by the vectors that reference it) and converts
//! the fixed-width columns in bulk, like its own `arrow_scan`. Each call emits one
//! `STANDARD_VECTOR_SIZE` slice: the slice is exported through the Arrow C data interface,
//! converted to a DuckDB data chunk, and the output chunk's vectors are made to reference it.
//!
//! The conversion needs a DuckDB connection only for its client context (Arrow options); it
//! uses a private in-memory instance, so it never touches the store's file or settings (and
//! works the same after `serve`'s lockdown). Batches are registered in a process-wide map and
//! passed to SQL as an opaque `UBIGINT` token, like duckdb-rs's registrations.

use std::collections::HashMap;
use std::ffi::CStr;
use std::ptr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

use duckdb::arrow::array::{Array, StructArray};
use duckdb::arrow::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use duckdb::arrow::record_batch::RecordBatch;
use duckdb::core::{DataChunkHandle, LogicalTypeHandle, LogicalTypeId};
use duckdb::ffi;
use duckdb::vtab::{BindInfo, InitInfo, TableFunctionInfo, VTab, to_duckdb_logical_type_for_field};

/// The SQL name of the table function.
pub const FUNCTION: &str = "arrow_batch";

static BATCHES: LazyLock<Mutex<HashMap<u64, Arc<[RecordBatch]>>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1 << 62);

fn batches() -> MutexGuard<'static, HashMap<u64, Arc<[RecordBatch]>>> {
    BATCHES.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Batches (of one schema) registered for `arrow_batch(token)`, which reads them one after
/// the other, until this value is dropped. A scan that was bound while they were registered
/// keeps its own reference to them.
#[derive(Debug)]
#[must_use = "dropping the registration releases the batch"]
pub struct Registration {
    token: u64,
}

impl Registration {
    /// Registers `batch`.
    pub fn new(batch: RecordBatch) -> Registration {
        Registration::many(vec![batch])
    }

    /// Registers `batches`, read in order as one relation; they must share a schema (the
    /// first one's), and there must be at least one.
    pub fn many(batches: Vec<RecordBatch>) -> Registration {
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        self::batches().insert(token, batches.into());
        Registration { token }
    }

    /// The value to bind as the function's argument.
    pub fn token(&self) -> u64 {
        self.token
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let removed = batches().remove(&self.token);
        drop(removed);
    }
}

/// The private in-memory instance whose connection supplies the client context DuckDB's
/// Arrow conversion asks for.
struct Converter {
    db: ffi::duckdb_database,
    conn: ffi::duckdb_connection,
}

// SAFETY: DuckDB database and connection handles may be used from any thread; the mutex
// around the one `Converter` serialises the conversions that use its connection.
unsafe impl Send for Converter {}

static CONVERTER: LazyLock<Result<Mutex<Converter>, String>> = LazyLock::new(|| {
    let mut db: ffi::duckdb_database = ptr::null_mut();
    let mut conn: ffi::duckdb_connection = ptr::null_mut();
    // SAFETY: out-pointers to fresh handles; a null path opens a private in-memory database.
    unsafe {
        if ffi::duckdb_open(ptr::null(), &mut db) != ffi::DuckDBSuccess {
            return Err("could not open the in-memory instance for Arrow conversion".into());
        }
        if ffi::duckdb_connect(db, &mut conn) != ffi::DuckDBSuccess {
            ffi::duckdb_close(&mut db);
            return Err("could not connect to the in-memory instance for Arrow conversion".into());
        }
    }
    Ok(Mutex::new(Converter { db, conn }))
});

impl Drop for Converter {
    fn drop(&mut self) {
        // SAFETY: handles opened in CONVERTER and used nowhere else.
        unsafe {
            ffi::duckdb_disconnect(&mut self.conn);
            ffi::duckdb_close(&mut self.db);
        }
    }
}

/// Runs one Arrow conversion call with the converter's connection, under its lock.
///
/// # Safety
/// `call` must be a DuckDB C API call whose other arguments are valid; it returns null or a
/// `duckdb_error_data` this function takes over.
unsafe fn convert(
    call: impl FnOnce(ffi::duckdb_connection) -> ffi::duckdb_error_data,
) -> Result<(), String> {
    let converter = match &*CONVERTER {
        Ok(m) => m.lock().unwrap_or_else(PoisonError::into_inner),
        Err(e) => return Err(e.clone()),
    };
    // SAFETY: the caller's contract.
    unsafe { check(call(converter.conn)) }
}

/// Takes a `duckdb_error_data` result: `Ok` when it holds no error.
///
/// # Safety
/// `error` must be null or a live `duckdb_error_data` this call may destroy.
unsafe fn check(mut error: ffi::duckdb_error_data) -> Result<(), String> {
    if error.is_null() {
        return Ok(());
    }
    // SAFETY: non-null error data returned by DuckDB, destroyed once here.
    unsafe {
        let result = if ffi::duckdb_error_data_has_error(error) {
            let message = ffi::duckdb_error_data_message(error);
            Err(if message.is_null() {
                "Arrow conversion failed".to_string()
            } else {
                CStr::from_ptr(message).to_string_lossy().into_owned()
            })
        } else {
            Ok(())
        };
        ffi::duckdb_destroy_error_data(&mut error);
        result
    }
}

/// DuckDB's reading of the batch's Arrow schema.
struct ConvertedSchema(ffi::duckdb_arrow_converted_schema);

// SAFETY: an immutable description of column types, only read during conversions (which the
// converter's mutex serialises).
unsafe impl Send for ConvertedSchema {}
unsafe impl Sync for ConvertedSchema {}

impl Drop for ConvertedSchema {
    fn drop(&mut self) {
        // SAFETY: created by duckdb_schema_from_arrow, destroyed once.
        unsafe { ffi::duckdb_destroy_arrow_converted_schema(&mut self.0) }
    }
}

/// What a bound scan holds: the batches (so they outlive their registration), the slices
/// it emits in order (batch, offset, rows), and their schema as DuckDB reads it.
pub struct ScanBind {
    batches: Arc<[RecordBatch]>,
    slices: Vec<(usize, usize, usize)>,
    schema: ConvertedSchema,
}

/// How far the scan has got: the next slice.
pub struct ScanInit {
    next: AtomicUsize,
}

/// The `arrow_batch` table function.
pub struct ArrowBatchScan;

impl VTab for ArrowBatchScan {
    type BindData = ScanBind;
    type InitData = ScanInit;

    fn bind(bind: &BindInfo) -> Result<ScanBind, Box<dyn std::error::Error>> {
        let token = bind.get_parameter(0).to_uint64();
        let registered = batches()
            .get(&token)
            .cloned()
            .ok_or_else(|| format!("{FUNCTION}: no batch is registered as {token}"))?;
        let first = registered
            .first()
            .ok_or_else(|| format!("{FUNCTION}: registration {token} holds no batch"))?;
        let schema = first.schema();
        if let Some(other) = registered.iter().find(|b| b.schema() != schema) {
            return Err(format!(
                "{FUNCTION}: registration {token} mixes schemas: {schema:?} and {:?}",
                other.schema()
            )
            .into());
        }
        // SAFETY: a constant of the linked library.
        let vector_size = unsafe { ffi::duckdb_vector_size() } as usize;
        let slices = registered
            .iter()
            .enumerate()
            .flat_map(|(i, b)| {
                (0..b.num_rows())
                    .step_by(vector_size)
                    .map(move |offset| (i, offset, vector_size.min(b.num_rows() - offset)))
            })
            .collect();
        for field in schema.fields() {
            bind.add_result_column(field.name(), to_duckdb_logical_type_for_field(field)?);
        }
        let mut ffi_schema = FFI_ArrowSchema::try_from(schema.as_ref())?;
        let mut converted: ffi::duckdb_arrow_converted_schema = ptr::null_mut();
        // SAFETY: a valid exported schema, read (not taken) by DuckDB; an out-pointer.
        unsafe {
            convert(|conn| {
                ffi::duckdb_schema_from_arrow(
                    conn,
                    (&mut ffi_schema as *mut FFI_ArrowSchema).cast(),
                    &mut converted,
                )
            })?;
        }
        Ok(ScanBind {
            batches: registered,
            slices,
            schema: ConvertedSchema(converted),
        })
    }

    fn init(_: &InitInfo) -> Result<ScanInit, Box<dyn std::error::Error>> {
        Ok(ScanInit {
            next: AtomicUsize::new(0),
        })
    }

    fn func(
        func: &TableFunctionInfo<Self>,
        output: &mut DataChunkHandle,
    ) -> Result<(), Box<dyn std::error::Error>> {
        let bound = func.get_bind_data();
        let next = func.get_init_data().next.fetch_add(1, Ordering::Relaxed);
        let Some(&(batch, offset, len)) = bound.slices.get(next) else {
            output.set_len(0);
            return Ok(());
        };
        let slice = StructArray::from(bound.batches[batch].slice(offset, len));
        let mut array = FFI_ArrowArray::new(&slice.to_data());
        let mut chunk: ffi::duckdb_data_chunk = ptr::null_mut();
        // SAFETY: a valid exported struct array of the bound schema; DuckDB takes it over
        // (sets its `release` to null) and releases it when no vector references it.
        unsafe {
            convert(|conn| {
                ffi::duckdb_data_chunk_from_arrow(
                    conn,
                    (&mut array as *mut FFI_ArrowArray).cast(),
                    bound.schema.0,
                    &mut chunk,
                )
            })?;
        }
        // SAFETY: both chunks have the batch's columns in order with the same types; the
        // output's vectors share the converted vectors' buffers, then our chunk is freed.
        unsafe {
            let out = output.get_ptr();
            for column in 0..slice.num_columns() {
                ffi::duckdb_vector_reference_vector(
                    ffi::duckdb_data_chunk_get_vector(out, column as u64),
                    ffi::duckdb_data_chunk_get_vector(chunk, column as u64),
                );
            }
            ffi::duckdb_destroy_data_chunk(&mut chunk);
        }
        output.set_len(len);
        Ok(())
    }

    fn parameters() -> Option<Vec<LogicalTypeHandle>> {
        Some(vec![LogicalTypeHandle::from(LogicalTypeId::UBigint)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use duckdb::Connection;
    use duckdb::arrow::array::{ArrayRef, BooleanArray, Int32Array, StringArray};
    use duckdb::arrow::datatypes::{DataType, Field, Schema};

    /// Rows with nulls, long (not inlined) and short strings, across several vector-sized
    /// slices: what the scan returns equals the values put in, row by row.
    #[test]
    fn a_batch_reads_back_exactly_across_slices() {
        let n = 5_000;
        let names: Vec<Option<String>> = (0..n)
            .map(|i| match i % 3 {
                0 => None,
                1 => Some(format!("s{i}")),
                _ => Some(format!("a-longer-string-that-is-not-inlined-{i}-é")),
            })
            .collect();
        let ports: Vec<Option<i32>> = (0..n).map(|i| (i % 4 != 0).then_some(i)).collect();
        let flags: Vec<Option<bool>> = (0..n).map(|i| (i % 5 != 0).then_some(i % 2 == 0)).collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("port", DataType::Int32, true),
            Field::new("flag", DataType::Boolean, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(names.clone())) as ArrayRef,
                Arc::new(Int32Array::from(ports.clone())),
                Arc::new(BooleanArray::from(flags.clone())),
            ],
        )
        .unwrap();
        // A slice with a non-zero offset, as a filtered or sliced batch would be.
        let batch = batch.slice(7, n as usize - 7);
        let conn = Connection::open_in_memory().unwrap();
        conn.register_table_function::<ArrowBatchScan>(FUNCTION)
            .unwrap();
        let reg = Registration::new(batch);
        let mut stmt = conn
            .prepare("SELECT name, port, flag FROM arrow_batch(?)")
            .unwrap();
        let got: Vec<(Option<String>, Option<i32>, Option<bool>)> = stmt
            .query_map([reg.token()], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        drop(reg);
        let want: Vec<_> = (7..n as usize)
            .map(|i| (names[i].clone(), ports[i], flags[i]))
            .collect();
        assert_eq!(got.len(), want.len());
        assert_eq!(got, want);
    }

    /// Several batches, one of them empty, read as one relation in order.
    #[test]
    fn several_batches_read_as_one_in_order() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int32, false)]));
        let batch = |from: i32, to: i32| {
            RecordBatch::try_new(
                schema.clone(),
                vec![Arc::new(Int32Array::from((from..to).collect::<Vec<_>>())) as ArrayRef],
            )
            .unwrap()
        };
        let conn = Connection::open_in_memory().unwrap();
        conn.register_table_function::<ArrowBatchScan>(FUNCTION)
            .unwrap();
        let reg = Registration::many(vec![batch(0, 3000), batch(3000, 3000), batch(3000, 3005)]);
        let got: Vec<i32> = conn
            .prepare("SELECT n FROM arrow_batch(?)")
            .unwrap()
            .query_map([reg.token()], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, (0..3005).collect::<Vec<_>>());
    }

    #[test]
    fn an_unknown_token_is_an_error_not_a_crash() {
        let conn = Connection::open_in_memory().unwrap();
        conn.register_table_function::<ArrowBatchScan>(FUNCTION)
            .unwrap();
        let err = conn
            .query_row("SELECT count(*) FROM arrow_batch(42)", [], |r| {
                r.get::<_, i64>(0)
            })
            .unwrap_err();
        assert!(err.to_string().contains("no batch is registered"), "{err}");
    }
}
