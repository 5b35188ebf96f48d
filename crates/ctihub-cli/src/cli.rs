//! The command line. Flags only override settings; the environment is read by the configuration
//! layer (not by clap's `env`) so that an error can say whether a value came from a flag or a
//! variable.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use ctihub_domain::user::Role;

use crate::config::Overrides;

#[derive(Debug, Parser)]
#[command(name = "ctihub", version, about = "ctihub: caller identification and CTI hub for helpdesks")]
#[command(after_help = "Settings: flags > CTIHUB_* environment > ctihub.toml > defaults. See docs/configuration.md.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (migrates the database first)
    Serve(ServeArgs),
    /// Bring the database schema up to date, then exit
    Migrate(DataArgs),
    /// Manage users
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Import records from files
    #[command(subcommand)]
    Import(ImportCommand),
    /// Exit 0 when a running server answers GET /healthz with 200
    Healthcheck(HealthcheckArgs),
    /// Configure the CTI integration (Zammad generic push API); changes hold at once
    Cti(CtiArgs),
    /// Write a consistent copy of the SQLite database to FILE; safe while the server runs
    Backup(BackupArgs),
    /// Replace the SQLite database with a backup FILE (stop the server first)
    Restore(RestoreArgs),
}

impl Command {
    /// The `--config` file and the setting overrides this command was given.
    pub fn config_args(&self) -> (Option<PathBuf>, Overrides) {
        let data = match self {
            Command::Serve(a) => {
                let (file, mut overrides) = a.data.config_args();
                overrides.listen.clone_from(&a.listen);
                return (file, overrides);
            }
            Command::Migrate(a) => a,
            Command::User(UserCommand::Create(a)) => &a.data,
            Command::Token(TokenCommand::Create(a)) => &a.data,
            Command::Import(ImportCommand::Users(a)) => &a.data,
            Command::Healthcheck(a) => return (a.config.config.clone(), Overrides::default()),
            Command::Cti(a) => &a.data,
            Command::Backup(a) => &a.data,
            Command::Restore(a) => &a.data,
        };
        data.config_args()
    }
}

#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// Settings file (default: ./ctihub.toml if present) [env: CTIHUB_CONFIG]
    #[arg(long, value_name = "FILE", env = "CTIHUB_CONFIG", hide_env = true, global = true)]
    pub config: Option<PathBuf>,
}

/// The options of every command that opens the database.
#[derive(Debug, Clone, Default, Args)]
pub struct DataArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Directory for the SQLite database [env: CTIHUB_DATA_DIR] [default: ./ctihub-data]
    // Global so `ctihub cti block add N --data-dir D` works after a nested subcommand.
    #[arg(long, value_name = "DIR", global = true)]
    pub data_dir: Option<String>,
    /// postgres://USER:PASSWORD@HOST/DB or sqlite://PATH; overrides --data-dir [env: CTIHUB_DATABASE_URL]
    #[arg(long, value_name = "URL", global = true)]
    pub database_url: Option<String>,
    /// Country for phone numbers written without a country code [env: CTIHUB_DEFAULT_REGION] [default: US]
    #[arg(long, value_name = "CODE", global = true)]
    pub default_region: Option<String>,
}

impl DataArgs {
    fn config_args(&self) -> (Option<PathBuf>, Overrides) {
        (
            self.config.config.clone(),
            Overrides {
                listen: None,
                data_dir: self.data_dir.clone(),
                database_url: self.database_url.clone(),
                default_region: self.default_region.clone(),
            },
        )
    }
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Address to listen on, HOST:PORT [env: CTIHUB_LISTEN] [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print its id
    Create(UserCreateArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RoleArg {
    Admin,
    Agent,
    EndUser,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Role {
        match role {
            RoleArg::Admin => Role::Admin,
            RoleArg::Agent => Role::Agent,
            RoleArg::EndUser => Role::EndUser,
        }
    }
}

#[derive(Debug, Args)]
pub struct UserCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[arg(long, value_enum)]
    pub role: RoleArg,
    #[arg(long)]
    pub name: String,
    #[arg(long)]
    pub email: Option<String>,
    /// Console password, at least 8 characters (visible to other local users in the process list)
    #[arg(long)]
    pub password: Option<String>,
    /// Phone number; repeat for several
    #[arg(long = "phone", value_name = "NUMBER")]
    pub phones: Vec<String>,
    /// Mobile number; repeat for several
    #[arg(long = "mobile", value_name = "NUMBER")]
    pub mobiles: Vec<String>,
    /// The id the PBX knows this agent by
    #[arg(long, value_name = "ID")]
    pub agent_id: Option<String>,
    /// The agent's PBX extension
    #[arg(long, value_name = "EXT")]
    pub extension: Option<String>,
    /// Organization by name, created if missing
    #[arg(long, value_name = "NAME")]
    pub organization: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create an API token for a user and print it (it is shown only this once)
    Create(TokenCreateArgs),
}

#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The user the token acts as
    #[arg(long)]
    pub email: String,
    /// What the token is for, e.g. asterisk
    #[arg(long)]
    pub label: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import users from a CSV file with a header line
    /// (columns: name,email,phone,mobile,organization,external_id,role,tags)
    Users(ImportUsersArgs),
}

#[derive(Debug, Args)]
pub struct ImportUsersArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The CSV file
    #[arg(value_name = "FILE.csv")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the backup; must not exist yet
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// A file written by `ctihub backup`
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// Replace an existing database (it is kept beside the restored one, renamed)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    #[command(flatten)]
    pub config: ConfigArgs,
    /// Base URL of the server [default: derived from the listen setting, e.g. http://127.0.0.1:8080]
    #[arg(long)]
    pub url: Option<String>,
}

#[derive(Debug, Args)]
pub struct CtiArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(subcommand)]
    pub command: CtiCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtiCommand {
    /// Enable the integration and print its push path (/api/v1/cti/<token>)
    Enable,
    /// Disable the integration: pushes are answered 422 until it is enabled again
    Disable,
    /// Manage the push token
    #[command(subcommand)]
    Token(CtiTokenCommand),
    /// Manage the inbound block list
    #[command(subcommand)]
    Block(CtiBlockCommand),
    /// Manage the outbound caller-id routing table
    #[command(subcommand)]
    Route(CtiRouteCommand),
    /// Set the default caller id for outbound calls ("" clears it)
    CallerId {
        #[arg(value_name = "NUMBER")]
        number: String,
    },
    /// Manage the notify map (which agents hear about a queue or called number)
    #[command(subcommand)]
    Notify(CtiNotifyCommand),
    /// Set Freshdesk CTI options
    Freshdesk {
        /// The "New Ticket" option: a call to an online agent gets a new ticket as it comes in
        #[arg(long, value_enum, value_name = "on|off")]
        new_ticket: Switch,
    },
    /// Print the whole configuration as JSON
    Show,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Subcommand)]
pub enum CtiTokenCommand {
    /// Issue a new token and print the new push path; the old one stops working at once
    Rotate,
}

#[derive(Debug, Subcommand)]
pub enum CtiBlockCommand {
    /// Reject inbound calls from NUMBER (matched as sent and as a normalized number)
    Add {
        #[arg(value_name = "NUMBER")]
        number: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Stop blocking NUMBER
    Remove {
        #[arg(value_name = "NUMBER")]
        number: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CtiRouteCommand {
    /// Append a route: outbound calls to PATTERN (`*` = one or more characters) present CALLER_ID
    Add {
        #[arg(value_name = "PATTERN")]
        pattern: String,
        #[arg(value_name = "CALLER_ID")]
        caller_id: String,
        #[arg(long, default_value = "")]
        note: String,
    },
    /// Remove the route for PATTERN
    Remove {
        #[arg(value_name = "PATTERN")]
        pattern: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum CtiNotifyCommand {
    /// Notify these agents of calls to QUEUE_OR_NUMBER
    Add {
        #[arg(value_name = "QUEUE_OR_NUMBER")]
        queue: String,
        /// Agent e-mail; repeat for several
        #[arg(long = "agent", value_name = "EMAIL", required = true)]
        agents: Vec<String>,
    },
    /// Remove QUEUE_OR_NUMBER from the notify map
    Remove {
        #[arg(value_name = "QUEUE_OR_NUMBER")]
        queue: String,
    },
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
