"""hourly aggregates for the dashboard

Revision ID: 0003
Revises: 0001
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dashboard_database_hourly",
        sa.Column("database_code", sa.String(length=64), nullable=False),
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checks", sa.Integer(), nullable=False),
        sa.Column("ok_count", sa.Integer(), nullable=False),
        sa.Column("degraded_count", sa.Integer(), nullable=False),
        sa.Column("broken_count", sa.Integer(), nullable=False),
        sa.Column("no_data_count", sa.Integer(), nullable=False),
        sa.Column("latency_mean_ms", sa.Float(), nullable=True),
        sa.Column("latency_max_ms", sa.Float(), nullable=True),
        sa.Column("completeness_mean", sa.Float(), nullable=True),
        sa.Column("completeness_min", sa.Float(), nullable=True),
        sa.Column("signature_present_mean", sa.Float(), nullable=True),
        sa.Column("signature_valid_mean", sa.Float(), nullable=True),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("failure_kinds", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("database_code", "hour_start"),
    )
    op.create_index("ix_dashboard_database_hourly_hour", "dashboard_database_hourly", ["hour_start"])

    op.create_table(
        "dashboard_service_hourly",
        sa.Column("service_number", sa.Integer(), nullable=False),
        sa.Column("hour_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("evaluations", sa.Integer(), nullable=False),
        sa.Column("ready_count", sa.Integer(), nullable=False),
        sa.Column("block_kinds", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("service_number", "hour_start"),
    )
    op.create_index("ix_dashboard_service_hourly_hour", "dashboard_service_hourly", ["hour_start"])

    op.create_table(
        "dashboard_aggregation_state",
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("dashboard_aggregation_state")
    op.drop_index("ix_dashboard_service_hourly_hour", table_name="dashboard_service_hourly")
    op.drop_table("dashboard_service_hourly")
    op.drop_index("ix_dashboard_database_hourly_hour", table_name="dashboard_database_hourly")
    op.drop_table("dashboard_database_hourly")
