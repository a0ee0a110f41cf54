//! The PostgreSQL backend (a cluster's shared store), through a sqlx pool.

use crate::db::{DbError, Row, Step, Value};
use crate::{schema, Result};
use sqlx::postgres::{PgArguments, PgPoolOptions, PgRow};
use sqlx::{Column, Executor, PgPool, Postgres, Row as _, TypeInfo};
use std::time::Duration;

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

pub(crate) async fn open(url: &str) -> Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(16)
        .acquire_timeout(Duration::from_secs(30))
        .after_connect(|conn, _meta| {
            Box::pin(async move {
                // An acknowledged message survives a crash of the database server too,
                // whatever the server's own default.
                conn.execute("SET synchronous_commit = on").await?;
                Ok(())
            })
        })
        .connect(url)
        .await
        .map_err(DbError::from)?;
    schema::migrate_postgres(&pool).await?;
    Ok(pool)
}

fn bind(mut q: Query<'_>, params: Vec<Value>) -> Query<'_> {
    for p in params {
        q = match p {
            Value::Int(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
        };
    }
    q
}

pub(crate) async fn fetch_all(
    pool: &PgPool,
    sql: &str,
    params: Vec<Value>,
) -> Result<Vec<Row>, DbError> {
    let rows = bind(sqlx::query(sql), params).fetch_all(pool).await?;
    rows.iter().map(row).collect()
}

/// Every column as a [`Value`]: the schema has only BIGINT and TEXT (and counts are BIGINT).
fn row(r: &PgRow) -> Result<Row, DbError> {
    let mut values = Vec::with_capacity(r.columns().len());
    for (i, column) in r.columns().iter().enumerate() {
        let v = match column.type_info().name() {
            "INT8" => Value::Int(r.try_get(i)?),
            "INT4" => Value::Int(r.try_get::<Option<i32>, _>(i)?.map(i64::from)),
            "INT2" => Value::Int(r.try_get::<Option<i16>, _>(i)?.map(i64::from)),
            "BOOL" => Value::Int(r.try_get::<Option<bool>, _>(i)?.map(i64::from)),
            _ => Value::Text(r.try_get(i)?),
        };
        values.push(v);
    }
    Ok(Row(values))
}

/// The steps in one transaction (a single step runs on its own: it is atomic already).
pub(crate) async fn write(pool: &PgPool, steps: Vec<Step>) -> Result<Vec<u64>, DbError> {
    if steps.len() == 1 {
        let step = steps.into_iter().next().expect("one step");
        let expect_one = step.expect_one;
        let done = bind(sqlx::query(step.sql.as_ref()), step.params)
            .execute(pool)
            .await?;
        if expect_one && done.rows_affected() != 1 {
            return Err(DbError::Conflict);
        }
        return Ok(vec![done.rows_affected()]);
    }
    let mut tx = pool.begin().await?;
    let mut affected = Vec::with_capacity(steps.len());
    for step in steps {
        let done = bind(sqlx::query(step.sql.as_ref()), step.params)
            .execute(&mut *tx)
            .await?;
        if step.expect_one && done.rows_affected() != 1 {
            // Dropping the transaction rolls it back.
            return Err(DbError::Conflict);
        }
        affected.push(done.rows_affected());
    }
    tx.commit().await?;
    Ok(affected)
}

impl From<sqlx::Error> for DbError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e {
            if db.is_unique_violation() {
                return DbError::Unique(format!(
                    "{} {}",
                    db.constraint().unwrap_or_default(),
                    db.message()
                ));
            }
            // serialization_failure, deadlock_detected
            if let Some(code) = db.code() {
                if matches!(code.as_ref(), "40001" | "40P01") {
                    return DbError::Retryable(db.message().to_string());
                }
            }
        }
        if matches!(e, sqlx::Error::PoolClosed) {
            return DbError::Closed;
        }
        DbError::Other(e.to_string())
    }
}
