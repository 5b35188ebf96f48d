//! Custom field definitions for users and tickets, and the rules their values follow.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ticket::string_enum;
use crate::time::Millis;
use crate::{DomainError, Id};

string_enum!(FieldTarget, "target" { User = "user", Ticket = "ticket" });

string_enum!(FieldType, "type" {
    Text = "text", Integer = "integer", Decimal = "decimal", Checkbox = "checkbox",
    Date = "date", Dropdown = "dropdown", Phone = "phone",
});

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldOption {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct NewCustomField {
    pub target: FieldTarget,
    pub key: String,
    pub title: String,
    pub field_type: FieldType,
    pub description: Option<String>,
    pub options: Vec<FieldOption>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomField {
    pub id: Id,
    pub target: FieldTarget,
    pub key: String,
    pub title: String,
    pub field_type: FieldType,
    pub description: Option<String>,
    pub options: Vec<FieldOption>,
    pub position: i64,
    pub active: bool,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl NewCustomField {
    pub fn validate(&self) -> Result<(), DomainError> {
        let mut chars = self.key.chars();
        let key_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            && self.key.len() <= 64;
        if !key_ok {
            return Err(DomainError::new(
                "key",
                "must start with a letter and hold only letters, digits and underscores",
            ));
        }
        if self.title.trim().is_empty() {
            return Err(DomainError::new("title", "is required"));
        }
        match self.field_type {
            FieldType::Dropdown if self.options.is_empty() => {
                Err(DomainError::new("custom_field_options", "a dropdown needs at least one option"))
            }
            FieldType::Dropdown if self.options.iter().any(|o| o.value.trim().is_empty()) => {
                Err(DomainError::new("custom_field_options", "every option needs a value"))
            }
            _ => Ok(()),
        }
    }
}

impl CustomField {
    /// Check a value a client sent and turn it into its stored text. `Ok(None)` clears the field.
    pub fn to_stored(&self, value: &Value) -> Result<Option<String>, DomainError> {
        let wrong = |expected: &str| DomainError::new(self.key.clone(), format!("expects {expected}, got {value}"));
        let stored = match (self.field_type, value) {
            (_, Value::Null) => return Ok(None),
            (FieldType::Text | FieldType::Phone, Value::String(s)) if s.is_empty() => return Ok(None),
            (FieldType::Text | FieldType::Phone, Value::String(s)) => s.clone(),
            (FieldType::Text | FieldType::Phone, Value::Number(n)) => n.to_string(),
            (FieldType::Integer, Value::Number(n)) if n.is_i64() => n.to_string(),
            (FieldType::Integer, Value::String(s)) => {
                s.trim().parse::<i64>().map_err(|_| wrong("an integer"))?.to_string()
            }
            (FieldType::Integer, _) => return Err(wrong("an integer")),
            (FieldType::Decimal, Value::Number(n)) => n.to_string(),
            (FieldType::Decimal, Value::String(s)) => {
                s.trim().parse::<f64>().ok().filter(|f| f.is_finite()).ok_or_else(|| wrong("a number"))?.to_string()
            }
            (FieldType::Decimal, _) => return Err(wrong("a number")),
            (FieldType::Checkbox, Value::Bool(b)) => b.to_string(),
            (FieldType::Checkbox, Value::String(s)) => match s.as_str() {
                "true" | "1" => "true".into(),
                "false" | "0" | "" => "false".into(),
                _ => return Err(wrong("true or false")),
            },
            (FieldType::Checkbox, _) => return Err(wrong("true or false")),
            (FieldType::Date, Value::String(s)) => {
                let date: jiff::civil::Date =
                    s.trim().get(..10).unwrap_or(s).parse().map_err(|_| wrong("a date YYYY-MM-DD"))?;
                date.to_string()
            }
            (FieldType::Date, _) => return Err(wrong("a date YYYY-MM-DD")),
            (FieldType::Dropdown, Value::String(s)) => {
                if !self.options.iter().any(|o| &o.value == s) {
                    let allowed: Vec<&str> = self.options.iter().map(|o| o.value.as_str()).collect();
                    return Err(DomainError::new(
                        self.key.clone(),
                        format!("`{s}` is not one of {}", allowed.join(", ")),
                    ));
                }
                s.clone()
            }
            (_, _) => return Err(wrong("a string")),
        };
        Ok(Some(stored))
    }

    /// Turn stored text back into the JSON value clients see.
    pub fn from_stored(&self, text: &str) -> Value {
        match self.field_type {
            FieldType::Integer => text.parse::<i64>().map(Value::from).unwrap_or(Value::Null),
            FieldType::Decimal => text
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            FieldType::Checkbox => Value::Bool(text == "true"),
            _ => Value::String(text.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn field(field_type: FieldType) -> CustomField {
        CustomField {
            id: 1,
            target: FieldTarget::User,
            key: "agentID".into(),
            title: "Agent".into(),
            field_type,
            description: None,
            options: vec![FieldOption { name: "Gold".into(), value: "gold".into() }],
            position: 0,
            active: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn values_are_checked_by_type() {
        assert_eq!(field(FieldType::Integer).to_stored(&json!("1234")).unwrap().as_deref(), Some("1234"));
        assert!(field(FieldType::Integer).to_stored(&json!("12x")).is_err());
        assert_eq!(field(FieldType::Checkbox).to_stored(&json!(true)).unwrap().as_deref(), Some("true"));
        assert_eq!(field(FieldType::Date).to_stored(&json!("2024-02-29")).unwrap().as_deref(), Some("2024-02-29"));
        assert!(field(FieldType::Date).to_stored(&json!("2023-02-29")).is_err());
        assert!(field(FieldType::Dropdown).to_stored(&json!("silver")).is_err());
        assert_eq!(field(FieldType::Text).to_stored(&json!(null)).unwrap(), None);
        assert_eq!(field(FieldType::Integer).from_stored("7"), json!(7));
    }

    #[test]
    fn definitions_are_checked() {
        let mut def = NewCustomField {
            target: FieldTarget::User,
            key: "9bad".into(),
            title: "x".into(),
            field_type: FieldType::Text,
            description: None,
            options: vec![],
        };
        assert_eq!(def.validate().unwrap_err().field, "key");
        def.key = "agentID".into();
        assert!(def.validate().is_ok());
        def.field_type = FieldType::Dropdown;
        assert!(def.validate().is_err());
    }
}
