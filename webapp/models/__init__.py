"""SQLAlchemy models, one module per aggregate."""

from webapp.models.customer import Customer, CustomerStatus
from webapp.models.staff import SignInThrottle, Staff, StaffRole

__all__ = ["Customer", "CustomerStatus", "SignInThrottle", "Staff", "StaffRole"]
