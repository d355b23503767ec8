"""The one settings class: every tunable of the assistant, read from the environment (prefix BOT_) or a .env file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.expiry import DEFAULT_KINDS

_PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "sk-xxx", "your-api-key", "placeholder", "none", "test"}
EmbeddingBackend = Literal["use-m3", "sentence-transformers"]
VectorStoreMode = Literal["embedded", "server"]

# The petition categories shipped with the product (设施维修, 环境卫生, 噪音扰民, 物业服务, 安全隐患, 邻里纠纷, 其他).
DEFAULT_PETITION_CATEGORIES = Path(__file__).parent / "services" / "resources" / "petition_categories.json"


class Settings(BaseSettings):
    """Validated configuration; built once in the composition root and passed down explicitly."""

    model_config = SettingsConfigDict(env_prefix="BOT_", env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["development", "production"] = "development"

    # Knowledge base and local state
    knowledge_dir: Path = Path("knowledge")
    data_dir: Path = Path("data")

    # Embeddings: the bundled USE-multilingual model (numpy only) by default, or a local sentence-transformers model
    embedding_backend: EmbeddingBackend = "use-m3"
    embedding_model: str = ""
    embedding_device: str = "cpu"
    embedding_batch_size: int = Field(default=64, ge=1, le=4096)

    # Database: a SQLite file in data_dir by default; PostgreSQL by URL (postgresql+psycopg://user@host/db)
    database_url: str = ""

    # Vector store: embedded Chroma in data_dir/chroma, or a Chroma server
    vector_store: VectorStoreMode = "embedded"
    chroma_host: str = "127.0.0.1"
    chroma_port: int = Field(default=8000, ge=1, le=65535)
    collection_name: str = Field(default="knowledge", pattern=r"^[a-zA-Z0-9][a-zA-Z0-9_-]{1,40}[a-zA-Z0-9]$")

    # Chunking
    chunk_max_chars: int = Field(default=220, ge=40, le=2000)

    # Hybrid retrieval, tuned on the development set (see README, "How retrieval was tuned")
    dense_weight: float = Field(default=0.6, ge=0.0, le=1.0)
    second_chunk_weight: float = Field(default=0.3, ge=0.0, le=1.0)
    overview_bonus: float = Field(default=0.25, ge=0.0, le=1.0)
    sibling_lexical_weight: float = Field(
        default=0.5,
        ge=0.0,
        le=5.0,
        description=(
            "Within the best entry's subject (its FAQ table, guide and category), a sibling loses this much per "
            "unit by which its BM25 score among the subject's entries alone falls behind the best sibling's. On the "
            "development set 0.3-0.8 all raise hit@1 from 0.922 to about 0.93 and the correct rate from 0.848 to "
            "0.859-0.862 at a wrong-answer rate <= 0.03 with the decision unchanged; 0.5 is the middle of that range."
        ),
    )
    long_question_chars: int = Field(
        default=40,
        ge=0,
        le=5000,
        description=(
            "In questions of at least this many characters (a resident's story with the question at the end), the "
            "sibling separation leaves out words none of the subject's entries use, which otherwise shrink every "
            "sibling's fit and the gaps between them; 0 turns this off. On the development set any value from 25 "
            "to 60 raises the correct rate from 0.859 to 0.868 with the wrong-answer rate unchanged at 0.029 "
            "(80: 0.865); applied to every question it lifts the wrong-answer rate to 0.037. 40 is inside that range."
        ),
    )
    dense_candidates: int = Field(default=40, ge=1, le=500)
    top_k: int = Field(default=5, ge=1, le=50)

    # Answering: confidence = best score + margin_weight x its lead over the runner-up + agreement_bonus when the
    # dense and the lexical scores both rank that entry first; below the threshold the assistant says it does not
    # know. The threshold is calibrated on each knowledge base when it is ingested (README, "How refusal is
    # calibrated"); the weights were chosen on the development set with `python -m bot eval --sweep`.
    margin_weight: float | None = Field(
        default=None,
        ge=0.0,
        le=20.0,
        description=(
            "Weight of the best entry's lead over the runner-up in the confidence. Unset: calibrated (4, the "
            "development sweep's choice, for a knowledge base with several phrasings per entry; 1 with one "
            "phrasing per entry). A number overrides it (set the threshold with it)."
        ),
    )
    agreement_bonus: float | None = Field(
        default=None,
        ge=0.0,
        le=5.0,
        description=(
            "Added to the confidence when dense similarity and lexical score each rank the best entry first. "
            "Unset: 0.2 (with margin_weight 4, bonuses 0.1-0.4 all raise the development set's correct rate from "
            "0.82 to about 0.85 at a wrong-answer rate <= 0.03). A number overrides it."
        ),
    )
    answer_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=20.0,
        description=(
            "Confidence below which a question is refused and passed to staff. Unset: the threshold calibrated on "
            "the knowledge base at ingest (1.35 for an index ingested before calibration existed); a number "
            "overrides the calibration."
        ),
    )
    calibrate_at_ingest: bool = Field(
        default=True,
        description=(
            "Calibrate the answer and follow-up thresholds on the knowledge base at every ingest that changes it "
            "(a few seconds); off: the development set's constants (1.35 and 1.0) unless set above."
        ),
    )
    # A refused question whose best candidates fit about equally well offers them as numbered choices
    choice_floor: float = Field(
        default=0.6,
        ge=0.0,
        le=20.0,
        description=(
            "Choices are offered only when the best candidate's score is at least this. On the development set, "
            "with choice_gap 0.15, the entry asked about is among the choices for 25 of the 34 refused questions "
            "the knowledge base answers, and 10 of the 65 questions it does not cover get choices (0.5: 25 and 16; "
            "0.7: 17 and 7)."
        ),
    )
    choice_gap: float = Field(
        default=0.15,
        ge=0.0,
        le=5.0,
        description="Candidates within this of the best candidate's score are offered (up to three; at least two).",
    )
    # The community's own province/city/district names, comma-separated: questions naming them are not "elsewhere"
    home_regions: str = ""
    max_reply_chars: int = Field(default=300, ge=60, le=2000)
    max_question_chars: int = Field(default=500, ge=20, le=5000)
    followup_minutes: float = Field(default=5.0, gt=0, le=120)
    # A follow-up is answered only from its topic's entries, so it needs less confidence
    followup_threshold: float | None = Field(
        default=None,
        ge=0.0,
        le=20.0,
        description=(
            "Confidence below which a follow-up is refused. Unset: the calibrated answer threshold less the gap "
            "chosen on eval/followups.jsonl (0.35: 1.0 below 1.35, where 1.0-1.1 resolve 0.93 of the "
            "conversations); a number overrides it."
        ),
    )

    # WeChat through a Wechaty puppet service (personal WeChat or WeCom puppets); empty: the terminal channel
    wechaty_endpoint: str = ""
    wechaty_token: SecretStr = SecretStr("")
    wechaty_login_timeout_s: float = Field(default=30.0, gt=0, le=600)

    # Chat channels: names residents @-mention, keyword prefixes, new groups' default, flood limits, gentle sending
    bot_names: str = "社区小助手"
    # New members of a group are welcomed with this (a group's own text in the console replaces it; staff can turn
    # the welcome off per group); @-mentioning the newcomers, it says how to ask and how to report a problem
    welcome_text: str = Field(
        default=(
            "欢迎加入本群！我是社区小助手。办事、政策上的问题，在群里发“@社区小助手 加上您的问题”，"
            "比如“@社区小助手 高龄津贴怎么申请”；要报修或反映问题，发“报事 加上具体情况”，社区会跟进处理。"
        ),
        max_length=300,
    )
    # The staff WeChat group: new unanswered questions are posted there; "#12 答：…" answers one
    staff_group_id: str = ""
    unanswered_remind_minutes: float = Field(default=60.0, gt=0, le=10080)
    # Petitions (诉求): how long a complaint waits for the resident's "1" (and the place asked for), how long a resolved
    # case waits for the resident before it is closed, and the categories told privately rather than in the group
    petition_confirm_minutes: float = Field(default=10.0, gt=0, le=1440)
    petition_close_after_days: float = Field(default=7.0, gt=0, le=365)
    # How long a notice written in the staff WeChat group ("#通知 …") waits for its author's "确认发送"
    notice_confirm_minutes: float = Field(default=5.0, gt=0, le=120)
    petition_private_categories: str = "邻里纠纷"
    # Open311: how many requests one API key may post a minute (counted in memory by each process)
    open311_posts_per_minute: int = Field(default=30, ge=1, le=10000)
    # Petition deadlines: a case this close to its deadline is reminded to its department (hourly job), and one
    # overdue by more than escalate_after hours is escalated to the street office (吹哨), automatically once
    petition_due_soon_hours: float = Field(default=4.0, ge=0, le=168)
    petition_escalate_after_hours: float = Field(default=24.0, ge=0, le=2160)
    # The elderly subsidy register (高龄津贴双提醒): residents reaching this age are reminded to the staff group and
    # told to their family by SMS this many days before the month they reach it (some places pay from 70 or 90), by
    # the daily job at this local hour (SMS to families in the daytime)
    elderly_subsidy_age: int = Field(default=80, ge=50, le=120)
    elderly_remind_days_before: int = Field(default=30, ge=0, le=365)
    elderly_remind_hour: int = Field(default=9, ge=0, le=23)
    # WeChat ids of other bots in the groups (never answered, so two bots cannot talk to each other forever)
    other_bot_ids: str = ""
    keyword_prefixes: str = "小助手,#问"
    groups_enabled_by_default: bool = True
    rate_per_resident_per_minute: int = Field(default=6, ge=1, le=1000)
    rate_per_group_per_minute: int = Field(default=30, ge=1, le=10000)
    send_interval_s: float = Field(default=1.5, ge=0.0, le=60.0)
    send_jitter_s: float = Field(default=1.0, ge=0.0, le=60.0)
    send_max_attempts: int = Field(default=5, ge=1, le=50)

    # WeCom (企业微信) group robots: departments' dispatches queued on channel "wecom" (the message's group_id is the
    # robot's key) are POSTed to the robot webhook once staff turn this on; until then they wait in the outbox
    wecom_enabled: bool = False
    wecom_webhook_url: str = Field(
        default="https://qyapi.weixin.qq.com/cgi-bin/webhook/send", pattern=r"^https?://[^?\s]+$"
    )
    # A robot takes at most 20 messages a minute: one every 3 s
    wecom_interval_s: float = Field(default=3.0, ge=0.0, le=60.0)
    wecom_timeout_s: float = Field(default=10.0, gt=0, le=120)

    # SMS for residents without WeChat: "sms" outbox messages (user_id: a mobile number) POSTed to the community's SMS
    # relay (see bot/channels/sms.py for the JSON) once staff turn this on; until then they wait in the outbox
    sms_enabled: bool = False
    sms_webhook_url: str = Field(default="", pattern=r"^(https?://\S+)?$")
    sms_token: SecretStr = SecretStr("")
    # The signature (签名) the carrier shows before the text, as registered with it
    sms_sign: str = Field(default="", max_length=30)
    sms_interval_s: float = Field(default=1.0, ge=0.0, le=60.0)
    sms_timeout_s: float = Field(default=10.0, gt=0, le=120)
    # Longer texts are refused (an SMS is paid per 70-character segment): about seven segments
    sms_max_chars: int = Field(default=500, ge=70, le=2000)

    # Scheduled jobs (reminders, notices), kept in the database and run by the one process holding a lease there
    scheduler_lease_s: float = Field(
        default=30.0,
        ge=3.0,
        le=600.0,
        description=(
            "How long the process running scheduled jobs holds its lease without renewing (it renews every third "
            "of it); when that process dies, another takes over within about this long."
        ),
    )
    scheduler_misfire_grace_s: int = Field(
        default=3600,
        ge=1,
        le=7 * 86400,
        description=(
            "A job that came due while no process ran still runs on the next start if it is at most this many "
            "seconds late (once, however many runs it missed)."
        ),
    )

    # The community a new group (and a private chat) belongs to until an admin assigns it in the console
    default_community: str = ""

    # Petitions (诉求): the categories staff define (JSON: {name: description} or [{name, description, examples}]);
    # unset: petition_categories.json in the knowledge directory if there is one, else the seven shipped with the
    # product (see petition_categories_path)
    petition_categories_file: Path | None = None
    # Recognise complaints not said as petitions ("电梯又坏了") and ask the resident to confirm; it embeds every
    # message once more (channel p95 at 30 messages a second: about 150 ms on, 40 ms off). Explicit petitions
    # ("报事 …") are always recognised.
    petition_implicit: bool = True

    # Staff console (FastAPI): started with `python -m bot run`; behind HTTPS in production (secure cookies)
    console_enabled: bool = True
    console_host: str = "127.0.0.1"
    console_port: int = Field(default=8080, ge=1, le=65535)
    # None: secure cookies in production, plain HTTP allowed in development
    console_secure_cookies: bool | None = None
    console_session_hours: float = Field(default=12.0, gt=0, le=720)
    login_max_failures: int = Field(default=5, ge=1, le=100)
    login_lockout_minutes: float = Field(default=15.0, gt=0, le=1440)
    upload_max_mb: float = Field(default=20.0, gt=0, le=500)
    # A re-index (console, upload, FAQ save) that runs longer is stopped; the previous index keeps serving
    reindex_timeout_s: float = Field(default=600.0, gt=0, le=86400)
    # Figures and times on the console are shown in this offset from UTC (China Standard Time has no DST)
    utc_offset_hours: float = Field(default=8.0, ge=-12, le=14)

    # The address residents' phones reach the console at (https://… behind the proxy): the 门牌码 QR links point to
    # {public_url}/m/{token}; empty: the console's own http://host:port
    public_url: str = ""
    # Photos on petitions: the largest upload taken, and how many one case keeps
    photo_max_mb: float = Field(default=8.0, gt=0, le=50)
    photos_per_case: int = Field(default=6, ge=1, le=50)
    # A picture sent in chat goes with the sender's case filed in that group within this many minutes
    petition_photo_minutes: float = Field(default=30.0, gt=0, le=1440)
    # The 门牌码 phone page's limits: petitions per phone an hour, per network address an hour, per code a day
    door_code_per_device_hour: int = Field(default=3, ge=1, le=1000)
    door_code_per_address_hour: int = Field(default=10, ge=1, le=10000)
    door_code_per_code_day: int = Field(default=30, ge=1, le=100000)
    # 到期提醒: the kinds of items registered, each with the days before its due date it is reminded
    # ("名称:30,7;…"), how often an overdue item is reminded again, and the local hour of the daily reminder job
    expiry_kinds: str = DEFAULT_KINDS
    expiry_overdue_repeat_days: int = Field(default=7, ge=1, le=365)
    expiry_remind_hour: int = Field(default=9, ge=0, le=23)

    # LLM mode: any OpenAI-compatible chat endpoint (DeepSeek, Qwen/DashScope, vLLM, Ollama). Empty: extractive only.
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: SecretStr = SecretStr("")
    llm_timeout_s: float = Field(default=8.0, gt=0, le=120)
    llm_max_tokens: int = Field(default=400, ge=16, le=4096)
    # How long filing a petition waits for the model to read its fields before keeping the rules' draft
    petition_llm_timeout_s: float = Field(default=4.0, gt=0, le=60)
    prompts_dir: Path = Path("prompts")

    @model_validator(mode="after")
    def _check_consistency(self) -> Settings:
        if self.embedding_backend == "sentence-transformers" and not self.embedding_model:
            raise ValueError("BOT_EMBEDDING_MODEL 必须指向本地 sentence-transformers 模型目录")
        if self.llm_base_url and not self.llm_model:
            raise ValueError("设置了 BOT_LLM_BASE_URL 就必须同时设置 BOT_LLM_MODEL")
        key = self.llm_api_key.get_secret_value()
        if self.environment == "production" and self.llm_base_url and key.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("生产环境不能使用占位的 BOT_LLM_API_KEY，请填写真实密钥")
        if self.sms_enabled and not self.sms_webhook_url:
            raise ValueError("打开了 BOT_SMS_ENABLED 就必须设置 BOT_SMS_WEBHOOK_URL（短信网关地址）")
        sms_token = self.sms_token.get_secret_value()
        if self.environment == "production" and self.sms_enabled and sms_token.lower() in _PLACEHOLDER_SECRETS:
            raise ValueError("生产环境不能使用空的或占位的 BOT_SMS_TOKEN，请填写短信网关给的令牌")
        return self

    @property
    def llm_enabled(self) -> bool:
        """Whether answers are written by the configured chat model (else extractive only)."""
        return bool(self.llm_base_url)

    @property
    def secure_cookies(self) -> bool:
        """Whether console cookies carry the Secure flag."""
        if self.console_secure_cookies is not None:
            return self.console_secure_cookies
        return self.environment == "production"

    @property
    def home_region_names(self) -> list[str]:
        """home_regions split into names."""
        return list(self.split_list(self.home_regions))

    @staticmethod
    def split_list(value: str) -> tuple[str, ...]:
        """A comma-separated setting as a tuple (full-width commas accepted)."""
        return tuple(part.strip() for part in value.replace("，", ",").split(",") if part.strip())

    @property
    def petition_categories_path(self) -> Path:
        """The petition categories in force: the file set, else the knowledge directory's petition_categories.json,
        else the seven categories shipped with the product."""
        if self.petition_categories_file is not None:
            return self.petition_categories_file
        staff_file = self.knowledge_dir / "petition_categories.json"
        return staff_file if staff_file.is_file() else DEFAULT_PETITION_CATEGORIES

    @property
    def public_address(self) -> str:
        """Where residents' phones reach the console (the 门牌码 links): BOT_PUBLIC_URL, else the console's address."""
        return (self.public_url or f"http://{self.console_host}:{self.console_port}").rstrip("/")

    @property
    def database(self) -> str:
        """The database URL in use."""
        return self.database_url or f"sqlite:///{self.data_dir / 'assistant.db'}"

    @property
    def chroma_dir(self) -> Path:
        """Where embedded Chroma keeps its files."""
        return self.data_dir / "chroma"

    @property
    def embedding_id(self) -> str:
        """A stable name of the embedding model; an index built with another model is rebuilt."""
        if self.embedding_backend == "use-m3":
            return "use-m3"
        return f"st:{Path(self.embedding_model).name or self.embedding_model}"
